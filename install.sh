#!/usr/bin/env bash
# Install ponton on a Debian 12 or Ubuntu 22.04/24.04 server, as root, from this checkout; see docs/install.md.
# Running it again is harmless and fast: each step is skipped when it is done, and ponton is reinstalled only when
# its source changed.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: ./install.sh [--uninstall | --purge | --help]

  (no option)    install or update ponton from this checkout and start everything
  --uninstall    remove ponton (virtualenv, command, watchdog and web services, sudoers rule, nginx includes);
                 keep the apps' data (/var/lib/ponton, /etc/ponton) and leave their containers running
  --purge        --uninstall, then also remove the data, the ponton user, and the apps' containers,
                 networks and images
  --help         show this help

Settings, stored in /etc/ponton/ponton.yml (a second run keeps the stored value unless the variable is set):
  PONTON_DOMAIN      apps are served at APP.DOMAIN      (default: ponton.localhost)
  PONTON_HTTP_PORT   the port nginx serves apps on      (default: 80)
  PONTON_HTTPS_PORT  the port for TLS                   (default: 443)
  PONTON_SSH_PORT    the sshd port used in git remotes  (default: 22)

Joining a cluster (docs/cluster.md), not stored:
  PONTON_JOIN            TOKEN@HOST:PORT, as `ponton cluster:join-command` prints it on a manager: this server
                         becomes a node of that cluster (running install.sh again with it changes nothing)
  PONTON_ADVERTISE_ADDR  the address the other servers reach this one at (default: the engine picks one)
EOF
}

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/ponton
VENV=$PREFIX/venv
STATE_DIR=/var/lib/ponton
CONFIG_DIR=/etc/ponton
CONFIG=$CONFIG_DIR/ponton.yml
LOG_DIR=/var/log/ponton
NGINX_CONF_DIR=/etc/nginx/ponton.d
NGINX_INCLUDE=/etc/nginx/conf.d/ponton.conf
# The stream{} context (apps' tcp and udp ports, ports:add) sits at nginx.conf's top level, where Debian's and
# Ubuntu's nginx.conf include only modules-enabled/*.conf: after 50-mod-stream.conf, which loads the module.
NGINX_STREAM_INCLUDE=/etc/nginx/modules-enabled/90-ponton-stream.conf
SUDOERS=/etc/sudoers.d/ponton
WRAPPER=/usr/local/bin/ponton
UNIT=/etc/systemd/system/ponton-watchdog.service
WEB_UNIT=/etc/systemd/system/ponton-web.service
SUPERVISOR_PID=/run/ponton-watchdog.pid
WEB_SUPERVISOR_PID=/run/ponton-web.pid
PACKAGES=(docker.io nginx libnginx-mod-stream openssh-server git debootstrap debian-archive-keyring python3-venv sudo
          logrotate)

say() { echo "-----> $*"; }
die() { echo "error: $*" >&2; exit 1; }
has_systemd() { [ -d /run/systemd/system ]; }
docker_up() { docker info >/dev/null 2>&1; }
# A zombie is not alive: where PID 1 is no init (containers), nobody reaps the processes it inherits.
alive() { local state; state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [[ $state != Z* ]]; }
# The pid in a pid file, if that process is alive and its command line mentions `what` (pids are reused).
running_pid() {
    local file=$1 what=$2 pid
    pid=$(cat "$file" 2>/dev/null) || return 1
    [ -n "$pid" ] && grep -qa -- "$what" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

main() {
    case "${1:-}" in
        --help | -h) usage; exit 0 ;;
        "" | --uninstall | --purge) ;;
        *) usage >&2; exit 2 ;;
    esac
    [ $# -le 1 ] || { usage >&2; exit 2; }
    [ "$(id -u)" = 0 ] || die "run install.sh as root"
    # Checked before anything is installed; `ponton cluster:join` checks it again, with the engine's answer.
    [ -z "${PONTON_JOIN:-}" ] || [[ $PONTON_JOIN =~ ^SWMTKN-1-[0-9a-z]+-[0-9a-z]+@[^@[:space:]]+:[0-9]+$ ]] ||
        die "PONTON_JOIN: expected TOKEN@HOST:PORT, as \`ponton cluster:join-command\` prints it on a manager"
    case "${1:-}" in
        --uninstall) leave_cluster; uninstall; say "ponton is uninstalled; its data stays in $STATE_DIR and $CONFIG_DIR"; return ;;
        --purge) leave_cluster; uninstall; purge; say "ponton and its data are removed"; return ;;
    esac
    check_os
    install_packages
    create_user_and_dirs
    write_settings
    install_ponton
    configure_nginx
    if has_systemd; then start_with_systemd; else start_without_systemd; fi
    if [ -n "${PONTON_JOIN:-}" ]; then join_cluster; else next_steps; fi
}

check_os() {
    # shellcheck source=/dev/null
    . /etc/os-release
    case " ${ID:-} ${ID_LIKE:-} " in
        *" debian "* | *" ubuntu "*) ;;
        *) die "install.sh supports Debian 12 and Ubuntu 22.04/24.04; this is ${PRETTY_NAME:-unknown}" ;;
    esac
}

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
    apt_install "${missing[@]}"
    # Debian 13 packages Docker's command line on its own (docker-cli, which docker.io only recommends): ponton and
    # this script run it.
    command -v docker >/dev/null || apt_install docker-cli
    # ponton needs Python 3.11; Ubuntu 22.04's python3 is 3.10, and it packages 3.11 separately.
    PYTHON=/usr/bin/python3
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        PYTHON=/usr/bin/python3.11
        missing=()
        for p in python3.11 python3.11-venv; do installed "$p" || missing+=("$p"); done
        apt_install "${missing[@]}"
    fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

apt_install() {
    [ $# -gt 0 ] || return 0
    say "Installing $*"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

create_user_and_dirs() {
    if ! id ponton >/dev/null 2>&1; then
        say "Creating the user ponton"
        useradd --system --user-group --create-home --home-dir /home/ponton --shell /bin/bash ponton
    fi
    # A shell, because sshd runs the forced command through it; the password '*' matches no password, yet the
    # account is not "locked" ('!'), which sshd without PAM would refuse even for keys. The docker group gives
    # access to the engine.
    usermod --shell /bin/bash --password '*' --append --groups docker ponton
    install -d -o ponton -g ponton -m 0755 "$LOG_DIR" "$LOG_DIR/nginx" "$NGINX_CONF_DIR" "$NGINX_CONF_DIR/stream"
    install -d -o ponton -g ponton -m 0711 "$STATE_DIR"
    install -d -o ponton -g ponton -m 0700 /home/ponton/.ssh
    install -d -m 0755 "$CONFIG_DIR" "$PREFIX/bin"
    # Everything in the state dir is ponton's: root's `ponton` runs as ponton, and so do pushes over SSH.
    chown -R ponton:ponton "$STATE_DIR"
    # ...and for ponton alone: it holds every tenant's config, repos and keys (ponton runs with umask 077; this
    # mends an install made before it did). Others may only traverse the state dir (0711), to reach the ACME
    # challenges that nginx's workers serve.
    chmod 0711 "$STATE_DIR"
    find "$STATE_DIR" -mindepth 1 -path "$STATE_DIR/acme-challenge" -prune -o -perm /077 -exec chmod go-rwx {} +
    # Access logs that a root nginx created (ponton now creates each before nginx opens it): the watchdog and
    # the web face, as ponton, read them for metrics and autoscaling.
    find "$LOG_DIR/nginx" -name '*.access.log*' ! -user ponton -exec chown ponton:ponton {} + -exec chmod 0600 {} +
}

write_settings() {
    local before
    before=$(cat "$CONFIG" 2>/dev/null || true)
    [ -f "$CONFIG" ] || printf '# ponton settings (docs/install.md); install.sh keeps your edits.\n' >"$CONFIG"
    local domain=${PONTON_DOMAIN:-}
    if [ -n "$domain" ]; then
        domain=${domain,,}
        [[ $domain =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$ ]] ||
            die "PONTON_DOMAIN: not a domain name: $domain"
        set_setting domain "\"$domain\""
    else
        default_setting domain '"ponton.localhost"'
    fi
    port_setting http_port "${PONTON_HTTP_PORT:-}" 80
    port_setting https_port "${PONTON_HTTPS_PORT:-}" 443
    port_setting ssh_port "${PONTON_SSH_PORT:-}" 22
    # The ponton user checks and reloads the system nginx through sudo (the rule in /etc/sudoers.d/ponton).
    set_setting nginx_command '"sudo -n /usr/sbin/nginx"'
    chmod 0644 "$CONFIG"
    # A running watchdog read the old settings; restarted, it rewrites every app's vhost (e.g. a new port).
    [ -z "$before" ] || [ "$(cat "$CONFIG")" = "$before" ] || RESTART="the settings changed"
}

port_setting() {
    local name=$1 value=$2 default=$3
    if [ -z "$value" ]; then default_setting "$name" "$default"; return; fi
    [[ $value =~ ^[0-9]+$ ]] && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] ||
        die "PONTON_${name^^}: not a port number: $value"
    set_setting "$name" "$value"
}

setting() { sed -n "s/^$1: *//p" "$CONFIG"; }

set_setting() {  # replace the line of setting $1, or add one
    if grep -q "^$1:" "$CONFIG"; then
        sed -i "s|^$1:.*|$1: $2|" "$CONFIG"
    else
        echo "$1: $2" >>"$CONFIG"
    fi
}

default_setting() { grep -q "^$1:" "$CONFIG" || echo "$1: $2" >>"$CONFIG"; }

install_ponton() {
    [ -x "$VENV/bin/python" ] || { say "Creating the virtualenv $VENV"; "$PYTHON" -m venv "$VENV"; }
    # Reinstall only when the source changed, so that a second run is fast.
    local sources=(setup.cfg pyproject.toml README.md ponton runtime builder gitreceive plugins) digest
    digest=$(cd "$SRC" && find "${sources[@]}" -type f ! -path '*/__pycache__/*' -print0 | sort -z |
        xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$PREFIX/source.sha256" 2>/dev/null)" != "$digest" ]; then
        say "Installing ponton from $SRC into $VENV"
        # From a copy: a build in the checkout would leave root's build/ and *.egg-info behind in it.
        local copy
        copy=$(mktemp -d)
        (cd "$SRC" && tar -c --exclude=__pycache__ --exclude='*.egg-info' "${sources[@]}") | tar -x -C "$copy"
        "$VENV/bin/pip" install -q --disable-pip-version-check "$copy"  # pip reinstalls from a directory
        rm -rf "$copy"
        echo "$digest" >"$PREFIX/source.sha256"
        RESTART="ponton was updated"
    fi
    install -m 0755 "$SRC/runtime/service/supervise.sh" "$PREFIX/bin/supervise"
    install -m 0644 "$SRC/runtime/service/logrotate.conf" /etc/logrotate.d/ponton
    write_if_changed "$WRAPPER" 0755 <<EOF
#!/bin/sh
# Installed by ponton's install.sh. Root's \`ponton\` runs as the ponton user, as pushes over SSH do, so that
# everything in $STATE_DIR stays ponton's. sudo starts from a clean environment: settings come from
# $CONFIG alone, the same for root and for SSH users.
if [ "\$(id -u)" = 0 ]; then
    # ponton runs from /: root's cwd (/root is 0700) may be one the ponton user cannot enter, and git refuses to
    # run in a cwd it cannot stat. No command takes a path but certs:add, whose files are read here first.
    # ponton takes a certificate on stdin only; root may name its own files: they are read here, as root.
    if [ "\$1" = certs:add ] && [ \$# -eq 4 ]; then
        for file in "\$3" "\$4"; do
            [ -f "\$file" ] && [ -r "\$file" ] || { echo "error: \$file: not a readable file" >&2; exit 2; }
        done
        cat -- "\$3" "\$4" | { cd / && sudo -u ponton -H -- $VENV/bin/ponton certs:add "\$2"; }
        exit
    fi
    cd /
    exec sudo -u ponton -H -- $VENV/bin/ponton "\$@"
fi
exec $VENV/bin/ponton "\$@"
EOF
}

# Write standard input to $1 (mode $2), atomically, unless it already holds exactly that.
write_if_changed() {
    local path=$1 mode=$2 text
    text=$(cat)
    if [ -f "$path" ] && [ "$(cat "$path")" = "$text" ]; then return 0; fi
    printf '%s\n' "$text" >"$path.tmp"
    chmod "$mode" "$path.tmp"
    mv "$path.tmp" "$path"
}

configure_nginx() {
    write_if_changed "$NGINX_INCLUDE" 0644 <<EOF
# Installed by ponton's install.sh: ponton writes one file per app (and 000-ponton.conf) in $NGINX_CONF_DIR.
include $NGINX_CONF_DIR/*.conf;
EOF
    write_if_changed "$NGINX_STREAM_INCLUDE" 0644 <<EOF
# Installed by ponton's install.sh: the apps' tcp and udp ports (ponton ports:add), one file per app.
stream {
    include $NGINX_CONF_DIR/stream/*.conf;
}
EOF
    # Debian's default site claims default_server on port 80; ponton's 000-ponton.conf answers unknown hosts.
    if [ -e /etc/nginx/sites-enabled/default ]; then
        say "Disabling nginx's default site (/etc/nginx/sites-enabled/default)"
        rm -f /etc/nginx/sites-enabled/default
    fi
    # ponton may check and reload nginx as root, nothing else.
    local rule
    rule=$(mktemp)
    cat >"$rule" <<'EOF'
# Installed by ponton's install.sh: ponton checks (-t) and reloads nginx after writing its config.
ponton ALL=(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -s reload
EOF
    visudo -c -q -f "$rule" || die "visudo refused the sudoers rule for ponton"
    install -m 0440 "$rule" "$SUDOERS"
    rm -f "$rule"
    nginx -t -q || die "nginx -t failed (see above): fix the nginx config, then run install.sh again"
}

start_with_systemd() {
    say "Starting Docker, nginx, sshd and the watchdog with systemd"
    systemctl enable --now docker.service nginx.service
    # Ubuntu 24.04 starts sshd from ssh.socket; starting ssh.service as well would fight it for the port.
    systemctl is-active --quiet ssh.socket || systemctl enable --now ssh.service
    systemctl reload nginx.service
    build_images
    install -m 0644 "$SRC/runtime/service/ponton-watchdog.service" "$UNIT"
    install -m 0644 "$SRC/runtime/service/ponton-web.service" "$WEB_UNIT"
    systemctl daemon-reload
    systemctl enable ponton-watchdog.service ponton-web.service
    local unit
    for unit in ponton-watchdog.service ponton-web.service; do
        if [ -n "${RESTART:-}" ]; then systemctl restart "$unit"; else systemctl start "$unit"; fi
    done
}

start_without_systemd() {
    local started=() running=()
    if docker_up; then running+=(dockerd); else start_dockerd; started+=("dockerd (log /var/log/dockerd.log)"); fi
    if running_pid /run/nginx.pid nginx >/dev/null; then
        nginx_reload
        running+=(nginx)
    else
        nginx
        started+=(nginx)
    fi
    if running_pid /run/sshd.pid sshd >/dev/null; then
        running+=(sshd)
    else
        ssh-keygen -A >/dev/null  # host keys, if the package's setup did not make them
        mkdir -p /run/sshd        # sshd's privilege separation directory
        /usr/sbin/sshd
        started+=("sshd (port $(sshd -T | sed -n 's/^port //p' | paste -sd,))")
    fi
    build_images
    if start_supervised watchdog "$SUPERVISOR_PID" "the watchdog"; then
        started+=("the watchdog under a restart-on-exit supervisor (pid $(cat "$SUPERVISOR_PID"), log $LOG_DIR/watchdog.log)")
    else
        running+=("the watchdog")
    fi
    if start_supervised web "$WEB_SUPERVISOR_PID" "the web face"; then
        started+=("the web face under a restart-on-exit supervisor (pid $(cat "$WEB_SUPERVISOR_PID"), log $LOG_DIR/web.log)")
    else
        running+=("the web face")
    fi
    say "systemd is not PID 1 here: install.sh runs Docker, nginx, sshd, the watchdog and the web face itself"
    [ ${#started[@]} -eq 0 ] || printf '       started %s\n' "${started[@]}"
    [ ${#running[@]} -eq 0 ] || echo "       already running: ${running[*]}"
    echo "       Nothing starts them again after a reboot: run ./install.sh again then."
}

start_dockerd() {
    setsid dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
    local _
    for _ in $(seq 120); do docker_up && return; sleep 0.5; done
    tail -20 /var/log/dockerd.log >&2
    die "dockerd did not start (its log is above)"
}

nginx_reload() {
    local out
    out=$(nginx -s reload 2>&1) || { echo "$out" >&2; die "nginx -s reload failed"; }
}

# `ponton $1` under a supervisor whose pid goes in $2 (its log: $LOG_DIR/$1.log); $3 names it for the user.
# Returns 0 when it started the supervisor, 1 when one was already running the current ponton.
start_supervised() {
    local command=$1 pid_file=$2 what=$3 pid
    if pid=$(running_pid "$pid_file" supervise); then
        [ -n "${RESTART:-}" ] || return 1
        say "Restarting $what: $RESTART"
        stop_supervisor "$pid" "$pid_file"
    fi
    touch "$LOG_DIR/$command.log"
    chown ponton:ponton "$LOG_DIR/$command.log"
    # As the ponton user, with a clean environment, in a session of its own so that it outlives this script and
    # its terminal. One command that execs all the way down (env, setpriv, setsid, supervise): $! is its pid.
    # From /, as systemd starts a unit: the directory install.sh was run in may be one ponton cannot enter
    # (a checkout under a 0700 dir), and git, which ponton runs, refuses to start in a cwd it cannot stat.
    env -i -C / PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/ponton USER=ponton LOGNAME=ponton LANG=C.UTF-8 \
        setpriv --reuid=ponton --regid=ponton --init-groups \
        setsid "$PREFIX/bin/supervise" "$VENV/bin/ponton" "$command" >>"$LOG_DIR/$command.log" 2>&1 </dev/null &
    echo $! >"$pid_file"
}

# The supervisor leads its own process group (setsid): stop it and its command together, forcibly if need be;
# then remove its pid file, $2.
stop_supervisor() {
    local pid=$1 pid_file=$2 _
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$pid_file"
}

build_images() {
    "$SRC/builder/base-image.sh"
}

next_steps() {
    local host port url remote
    host=$(hostname -f 2>/dev/null || hostname)
    port=$(setting http_port)
    url="http://APP.$(setting domain | tr -d '"')$([ "$port" = 80 ] || echo ":$port")/"
    port=$(setting ssh_port)
    remote="ponton@$host:APP"
    [ "$port" = 22 ] || remote="ssh://ponton@$host:$port/APP"
    cat <<END
-----> ponton is installed: apps are served at $url
       Settings are in $CONFIG; run install.sh again after changing them. Next:
       1. On this server, allow a key to push (the first key added is an admin):
            ponton ssh-keys:add alice < alice.pub
       2. On your machine, in an app's git repository:
            git remote add ponton $remote
            git push ponton main
       'ponton report' shows the engine, nginx, the watchdog and each app.
       The dashboard and API are at http://ponton.$(setting domain | tr -d '"')$([ "$(setting http_port)" = 80 ] || echo ":$(setting http_port)")/
       ('ponton dashboard:login' prints a link that logs you in; docs/web.md).
END
}

join_cluster() {
    local options=()
    [ -z "${PONTON_ADVERTISE_ADDR:-}" ] || options=(--advertise-addr "$PONTON_ADVERTISE_ADDR")
    "$WRAPPER" cluster:join "$PONTON_JOIN" "${options[@]}" || die "this server did not join the cluster (see above)"
    echo "       Apps are managed on a manager: \`ponton ps:report APP\` there says which instances run here."
}

# A node leaves its cluster before ponton goes, once no instance runs on it (a manager drains it): Swarm would
# otherwise stop them at once, unrouted. A manager must be demoted first, but the only one: the cluster's state
# is on it, and its apps keep running, as --uninstall leaves them on one server.
leave_cluster() {
    docker_up || return 0
    local swarm manager name instances
    read -r swarm manager name <<<"$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Name}}')"
    [ "$swarm" = active ] || return 0
    if [ "$manager" = true ]; then
        [ "$(docker info --format '{{.Swarm.Managers}}')" -le 1 ] && return 0
        die "this server is one of the cluster's managers: on another manager, \`ponton nodes:demote $name\` first"
    fi
    instances=$(docker ps -q --filter label=ponton.app | wc -l)
    [ "$instances" -eq 0 ] || die "this server still runs $instances instance(s) of the cluster's apps: on a manager, \`ponton nodes:drain $name\` first, then run this again"
    say "Leaving the cluster: on a manager, \`ponton nodes:remove $name\` then takes this server off the list"
    docker swarm leave >/dev/null
}

uninstall() {
    local pid unit
    for unit in "$UNIT" "$WEB_UNIT"; do
        [ -f "$unit" ] || continue
        say "Removing the $(basename "$unit")"
        systemctl disable --now "$(basename "$unit")" || true
        rm -f "$unit"
        systemctl daemon-reload || true
    done
    if pid=$(running_pid "$SUPERVISOR_PID" supervise); then
        say "Stopping the watchdog (supervisor pid $pid)"
        stop_supervisor "$pid" "$SUPERVISOR_PID"
    fi
    if pid=$(running_pid "$WEB_SUPERVISOR_PID" supervise); then
        say "Stopping the web face (supervisor pid $pid)"
        stop_supervisor "$pid" "$WEB_SUPERVISOR_PID"
    fi
    rm -f "$SUPERVISOR_PID" "$WEB_SUPERVISOR_PID"
    say "Removing $PREFIX, $WRAPPER, $SUDOERS, $NGINX_INCLUDE, $NGINX_STREAM_INCLUDE"
    rm -rf "$PREFIX"
    rm -f "$WRAPPER" "$SUDOERS" "$NGINX_INCLUDE" "$NGINX_STREAM_INCLUDE" /etc/logrotate.d/ponton
    if running_pid /run/nginx.pid nginx >/dev/null && nginx -t -q; then nginx_reload; fi
}

purge() {
    remove_app_containers
    say "Removing $STATE_DIR, $CONFIG_DIR, $LOG_DIR, $NGINX_CONF_DIR and the user ponton"
    rm -rf "$STATE_DIR" "$CONFIG_DIR" "$LOG_DIR" "$NGINX_CONF_DIR"
    if id ponton >/dev/null 2>&1; then
        local home
        home=$(getent passwd ponton | cut -d: -f6)
        # userdel --remove can fail after removing the user (a mail spool that never existed, a file in the home
        # it cannot remove): only a user still there is an error, then said by userdel itself.
        userdel --remove ponton 2>/dev/null || ! id ponton >/dev/null 2>&1 || userdel ponton
        if [ "$home" = /home/ponton ]; then rm -rf "$home"; fi
    fi
}

# Only this ponton's: containers carry the state dir as their owner label (test sandboxes and other pontons on
# the same engine have their own); app names also come from the state, for apps whose containers are gone.
remove_app_containers() {
    if ! docker_up; then
        echo "warning: the Docker engine is not running: the apps' containers, networks and images stay" >&2
        return
    fi
    local owner=(--filter "label=ponton.owner=$STATE_DIR") apps app ids
    apps=$( { docker ps -a "${owner[@]}" --format '{{.Label "ponton.app"}}'; state_apps; } | sort -u)
    ids=$(docker ps -aq "${owner[@]}")
    [ -z "$ids" ] || { say "Removing the apps' containers"; docker rm -f $ids >/dev/null; }
    for app in $apps; do
        docker network rm "ponton-$app" >/dev/null 2>&1 || true
        ids=$(docker images -q "ponton/app-$app" | sort -u)
        [ -z "$ids" ] || docker rmi -f $ids >/dev/null 2>&1 || true
    done
}

state_apps() {
    [ -f "$STATE_DIR/ponton.db" ] || return 0
    /usr/bin/python3 -c 'import sqlite3, sys
for (name,) in sqlite3.connect(sys.argv[1]).execute("SELECT name FROM apps"): print(name)' "$STATE_DIR/ponton.db" || true
}

main "$@"
