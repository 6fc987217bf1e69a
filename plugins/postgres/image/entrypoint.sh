# Starts the service's Postgres. On the first start (an empty volume) it makes the cluster with the service's
# password (POSTGRES_PASSWORD) and its database (POSTGRES_DB); from then on the password lives in the cluster.
# The cluster is made aside and moved into place last, so that a first start cut short starts over.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    rm -rf "$PGDATA.new"
    password=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password"
    # Apps connect over TCP with the password; `docker exec` (backups, health checks) over the socket, inside
    # the container only.
    initdb --pgdata="$PGDATA.new" --username=postgres --pwfile="$password" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8
    rm -f "$password"
    echo "listen_addresses = '*'" >> "$PGDATA.new/postgresql.conf"
    echo "host all all all scram-sha-256" >> "$PGDATA.new/pg_hba.conf"
    pg_ctl --pgdata="$PGDATA.new" --options="-c listen_addresses=''" --wait start
    createdb --username=postgres "$POSTGRES_DB"
    pg_ctl --pgdata="$PGDATA.new" --wait stop
    mv "$PGDATA.new" "$PGDATA"
fi
unset POSTGRES_PASSWORD
exec postgres
