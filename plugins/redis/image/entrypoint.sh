# Starts the service's Redis with its password (REDIS_PASSWORD, given on stdin, never on a command line) and a
# memory ceiling below the container's limit (REDIS_MAXMEMORY): a full Redis refuses writes instead of being
# killed. Every write goes to the append-only file (fsync each second), snapshots besides.
set -eu
# redis:restore leaves the backup as restore.rdb, to replace the data on this start. Redis loads the append-only
# files, never dump.rdb, when they are on: so the backup becomes their base (an RDB, as Redis writes it itself),
# made aside and moved into place, and restore.rdb goes last (a start cut short does it again).
if [ -f /data/restore.rdb ]; then
    rm -rf /data/appendonlydir.new
    mkdir /data/appendonlydir.new
    cp /data/restore.rdb /data/appendonlydir.new/appendonly.aof.1.base.rdb
    : > /data/appendonlydir.new/appendonly.aof.1.incr.aof
    printf 'file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n' \
        > /data/appendonlydir.new/appendonly.aof.manifest
    rm -rf /data/appendonlydir /data/dump.rdb
    mv /data/appendonlydir.new /data/appendonlydir
    rm /data/restore.rdb
fi
exec redis-server - <<CONFIG
requirepass $REDIS_PASSWORD
bind * -::*
protected-mode no
dir /data
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
maxmemory $REDIS_MAXMEMORY
maxmemory-policy noeviction
CONFIG
