#!/usr/bin/env bash
# Makes sure the services the tests (and scripts/run-local.sh) need are present:
#   - Dovecot IMAP server      (Debian dovecot-imapd, /usr/sbin/dovecot)
#   - aiosmtpd SMTP library    (Debian python3-aiosmtpd, for /usr/bin/python3)
#   - the openssl CLI          (Debian openssl; tests make a private CA with it)
#   - headless Chromium and its WebDriver (Debian chromium, chromium-driver; tests/web_browser.rs)
#   - Postgres answering on 127.0.0.1:5432 with trust auth for user `postgres`, with the roles
#     claimdesk_owner and claimdesk_app (see ensure_roles)
#     (or whatever CLAIMDESK_TEST_DATABASE_URL names, if set; then only that is checked).
#
# Idempotent; meant for Debian 12, run as root (installs packages). Prints one line per thing it
# checked or did; prints details only when something fails.
#
# Postgres, in order: one already answering on 127.0.0.1:5432 is used as it is; else a throwaway
# cluster made by an earlier run is started; else the Debian cluster on port 5432 is started
# (pg_ctlcluster) and kept if it gives trust auth on 127.0.0.1; else a throwaway cluster
# (initdb -A trust, owned by `postgres`, under /var/tmp) is created and started on 127.0.0.1:5432.
set -euo pipefail

# The port is 5432; CLAIMDESK_SETUP_PG_PORT exists only to test this script beside a live server.
PG_PORT="${CLAIMDESK_SETUP_PG_PORT:-5432}"
log() { echo "setup-services: $*"; }
die() {
    echo "setup-services: ERROR: $*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

pg_trust_ok() {
    PGCONNECT_TIMEOUT=5 psql -w -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
        -tAc 'SELECT 1' >/dev/null 2>&1
}

pg_server_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

# ---------------------------------------------------------------------------------------------
# Packages

missing=()
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
# tests/transport_security.rs makes a private CA and a server certificate with the openssl CLI
# (dovecot-core depends on it too; named here so the tests do not rely on that).
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# tests/web_browser.rs drives a real headless Chromium through chromedriver (testkit/src/browser.rs).
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
custom_db_url="${CLAIMDESK_TEST_DATABASE_URL:-}"
# The server binaries are needed even when a server already answers: tests/faults.rs starts
# (and restarts) a throwaway cluster of its own with initdb/pg_ctl.
if pg_server_installed; then
    command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
else
    missing+=(postgresql)
fi

installed_postgresql=0
if [ "${#missing[@]}" -gt 0 ]; then
    is_root || die "missing packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})"
    command -v apt-get >/dev/null 2>&1 || die "missing packages: ${missing[*]}, and no apt-get (this script knows Debian only)"
    log "installing ${missing[*]} (apt-get)..."
    apt_log="$(mktemp)"
    # Do not let the packages start their system-wide services (a system Dovecot on 143/993,
    # the Debian Postgres cluster): we start what we need ourselves. Standard Debian mechanism.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    cleanup_policy() { if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi; }
    trap cleanup_policy EXIT
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
        </dev/null >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        die "apt-get install ${missing[*]} failed (output above)"
    fi
    cleanup_policy
    trap - EXIT
    rm -f "$apt_log"
    for p in "${missing[@]}"; do [ "$p" = postgresql ] && installed_postgresql=1; done
    log "installed ${missing[*]}"
fi

[ -x /usr/sbin/dovecot ] || die "/usr/sbin/dovecot still missing after install (package dovecot-imapd)"
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 ||
    die "/usr/bin/python3 cannot import aiosmtpd (package python3-aiosmtpd)"
log "dovecot $(/usr/sbin/dovecot --version | cut -d' ' -f1) and python3-aiosmtpd are installed"

# ---------------------------------------------------------------------------------------------
# Postgres

if [ -n "$custom_db_url" ]; then
    if PGCONNECT_TIMEOUT=5 psql -w -X -q "$custom_db_url" -tAc 'SELECT 1' >/dev/null 2>&1; then
        log "Postgres: CLAIMDESK_TEST_DATABASE_URL answers; not touching anything else"
        exit 0
    fi
    die "CLAIMDESK_TEST_DATABASE_URL is set but psql cannot connect with it (no password prompt)"
fi

# The two database roles claimdesk uses locally (config: database.migrate_url and database.url):
#   claimdesk_owner  runs the migrations and owns the tables;
#   claimdesk_app    what the app connects as: full rights on its tables, but only SELECT and
#                    INSERT on audit_events (granted by claimdesk itself on every start).
# Both LOGIN, no superuser, no password (trust auth on 127.0.0.1). Roles are cluster-wide and
# may be created concurrently (tests): a lost race is fine.
ensure_roles() {
    local role
    for role in claimdesk_owner claimdesk_app; do
        PGCONNECT_TIMEOUT=5 psql -w -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') THEN
        CREATE ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END \$\$" >/dev/null || die "cannot create the database role $role"
    done
    log "database roles claimdesk_owner (migrations) and claimdesk_app (the app) exist"
}
finish() {
    ensure_roles
    exit 0
}

if pg_trust_ok; then
    log "Postgres already answers on 127.0.0.1:$PG_PORT (trust auth for postgres)"
    finish
fi

pg_version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)"
[ -n "$pg_version" ] || die "no PostgreSQL server under /usr/lib/postgresql (package postgresql)"
pg_bin="/usr/lib/postgresql/$pg_version/bin"
if is_root; then
    throwaway="/var/tmp/claimdesk-pg-$pg_version-p$PG_PORT"
    as_owner() { (cd / && runuser -u postgres -- "$@"); }
else
    throwaway="${TMPDIR:-/tmp}/claimdesk-pg-$pg_version-p$PG_PORT-$(id -u)"
    as_owner() { "$@"; }
fi

start_throwaway() {
    if [ ! -s "$throwaway/PG_VERSION" ]; then
        mkdir -p "$throwaway"
        if is_root; then chown postgres:postgres "$throwaway"; fi
        chmod 700 "$throwaway"
        local out
        if ! out="$(as_owner "$pg_bin/initdb" -D "$throwaway" -A trust -U postgres -E UTF8 --no-sync 2>&1)"; then
            echo "$out" >&2
            die "initdb of the throwaway cluster in $throwaway failed"
        fi
        log "created a throwaway Postgres $pg_version cluster in $throwaway (trust auth)"
    fi
    local out
    if ! out="$(as_owner "$pg_bin/pg_ctl" -D "$throwaway" -l "$throwaway/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $throwaway -c listen_addresses=127.0.0.1 -c fsync=off" start 2>&1)"; then
        echo "$out" >&2
        tail -n 20 "$throwaway/server.log" >&2 2>/dev/null || true
        die "could not start the throwaway Postgres cluster in $throwaway"
    fi
    pg_trust_ok || die "the throwaway cluster in $throwaway started but psql cannot log in as postgres"
    log "started the throwaway Postgres cluster in $throwaway on 127.0.0.1:$PG_PORT"
}

if port_open "$PG_PORT"; then
    # Something answers but will not let `postgres` in without a password.
    debian_cluster_online="$(pg_lsclusters --no-header 2>/dev/null | awk -v p="$PG_PORT" '$3 == p && $4 ~ /online/ {print $1 " " $2}' | head -n1 || true)"
    if [ "$installed_postgresql" = 1 ] && [ -n "$debian_cluster_online" ] && is_root; then
        log "stopping the freshly installed Debian cluster $debian_cluster_online (no trust auth on 127.0.0.1)"
        # shellcheck disable=SC2086
        pg_ctlcluster --skip-systemctl-redirect $debian_cluster_online stop >/dev/null 2>&1 || true
        start_throwaway
        finish
    else
        die "something answers on 127.0.0.1:$PG_PORT but user postgres cannot log in without a password.
Allow it (pg_hba.conf: 'host all postgres 127.0.0.1/32 trust'), stop that server, or point the tests
at another server with CLAIMDESK_TEST_DATABASE_URL=postgres://USER:PASS@HOST:PORT/postgres"
    fi
fi

if [ -s "$throwaway/PG_VERSION" ]; then
    start_throwaway
    finish
fi

# The Debian cluster on our port, if there is one and we may start it.
cluster="$(pg_lsclusters --no-header 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1 " " $2}' | head -n1 || true)"
if [ -n "$cluster" ] && is_root; then
    # shellcheck disable=SC2086
    if out="$(pg_ctlcluster --skip-systemctl-redirect $cluster start 2>&1)"; then
        if pg_trust_ok; then
            log "started the Debian Postgres cluster $cluster on 127.0.0.1:$PG_PORT"
            finish
        fi
        log "the Debian cluster $cluster has no trust auth for postgres on 127.0.0.1; stopping it again"
        # shellcheck disable=SC2086
        pg_ctlcluster --skip-systemctl-redirect $cluster stop >/dev/null 2>&1 || true
    else
        log "pg_ctlcluster $cluster start failed (${out//$'\n'/ }); using a throwaway cluster"
    fi
fi

start_throwaway
finish
