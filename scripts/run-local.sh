#!/usr/bin/env bash
# Runs claimdesk's main job (`serve`) on local defaults (config/default.toml):
#   - Postgres on 127.0.0.1:5432, database `claimdesk` owned by role claimdesk_owner (which
#     migrates); claimdesk connects as role claimdesk_app (scripts/setup-services.sh makes both)
#   - a local Dovecot on 127.0.0.1:10143, user `support`, password `secret`, state in
#     /var/tmp/claimdesk-local/dovecot (as root; unprivileged users cannot reach /root) or .local/dovecot
#   - an SMTP sink on 127.0.0.1:2525 that keeps every sent message as a file in .local/sent/
#   - on the first run, the emails in examples/sample-mail/ are put into support's INBOX
# Dovecot and the SMTP sink keep running after claimdesk exits; the next run reuses them.
#
#   scripts/run-local.sh          start what is missing, `cargo build` (progress shown), then
#                                 `target/debug/claimdesk ... serve`
#   scripts/run-local.sh stop     stop the local Dovecot and SMTP sink
#
# SLACK_* / DISCORD_* variables you set are passed through. CLAIMDESK_RUN_LOCAL_DRY=1 does
# everything except starting claimdesk.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
LOCAL="$REPO/.local"
# Dovecot reads its files as unprivileged users, which cannot reach a repository under a
# mode-700 home such as /root; as root its state therefore lives under /var/tmp instead.
if [ "$(id -u)" -eq 0 ]; then
    DOVECOT_DIR="${CLAIMDESK_LOCAL_DOVECOT_DIR:-/var/tmp/claimdesk-local/dovecot}"
else
    DOVECOT_DIR="${CLAIMDESK_LOCAL_DOVECOT_DIR:-$LOCAL/dovecot}"
fi
DOVECOT_CONF="$DOVECOT_DIR/dovecot.conf"
SENT_DIR="$LOCAL/sent"
SINK_PID_FILE="$LOCAL/smtp-sink.pid"
SINK_LOG="$LOCAL/smtp-sink.log"
SAMPLES_MARKER="$DOVECOT_DIR/samples-loaded"
IMAP_PORT=10143
SMTP_PORT=2525
IMAP_USER=support
IMAP_PASSWORD=secret
DOVECOT=/usr/sbin/dovecot
PYTHON=/usr/bin/python3 # Debian's, which has aiosmtpd (a python3 earlier on PATH may not)

say() { echo "run-local: $*"; }
die() {
    echo "run-local: ERROR: $*" >&2
    exit 1
}
port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
# First line the server on port $1 sends (its greeting), or nothing.
greeting() { timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; head -n1 <&3" 2>/dev/null | tr -d '\r' || true; }

dovecot_pid() {
    local pid
    pid="$(cat "$DOVECOT_DIR/run/master.pid" 2>/dev/null)" || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dovecot ] || return 1
    echo "$pid"
}
sink_pid() {
    local pid
    pid="$(cat "$SINK_PID_FILE" 2>/dev/null)" || return 1
    [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'smtp-sink.py' || return 1
    echo "$pid"
}
wait_gone() { # pid, seconds
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0
        sleep 0.05
    done
    return 1
}

stop_all() {
    local pid
    if pid="$(dovecot_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
        say "stopped the local Dovecot (pid $pid)"
    else
        say "the local Dovecot was not running"
    fi
    if pid="$(sink_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
        rm -f "$SINK_PID_FILE"
        say "stopped the SMTP sink (pid $pid)"
    else
        say "the SMTP sink was not running"
    fi
}

case "${1:-}" in
    "") ;;
    stop)
        stop_all
        exit 0
        ;;
    -h | --help)
        awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
        exit 0
        ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac

# 1. Packages and Postgres --------------------------------------------------------------------
bash scripts/setup-services.sh

# 2. Database ---------------------------------------------------------------------------------
# Two roles (made by setup-services.sh): claimdesk_owner owns the database and runs the
# migrations (database.migrate_url); claimdesk itself connects as claimdesk_app (database.url),
# which may only append to and read the audit trail.
OWNER_URL=postgres://claimdesk_owner@127.0.0.1:5432/claimdesk
APP_URL=postgres://claimdesk_app@127.0.0.1:5432/claimdesk
psql_admin() { PGCONNECT_TIMEOUT=5 psql -w -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres -d "${PSQL_DB:-postgres}" "$@"; }
if [ "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'claimdesk'")" = 1 ]; then
    # A database from before the two roles: hand it and its tables to claimdesk_owner.
    psql_admin -c 'ALTER DATABASE claimdesk OWNER TO claimdesk_owner' >/dev/null
    PSQL_DB=claimdesk psql_admin >/dev/null <<'SQL'
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
               AND pg_get_userbyid(c.relowner) <> 'claimdesk_owner' LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO claimdesk_owner', r.name);
    END LOOP;
    FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'S'
               AND pg_get_userbyid(c.relowner) <> 'claimdesk_owner' LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO claimdesk_owner', r.name);
    END LOOP;
END $$;
SQL
    say "database claimdesk exists, owned by claimdesk_owner ($OWNER_URL)"
else
    psql_admin -c 'CREATE DATABASE claimdesk OWNER claimdesk_owner' >/dev/null
    say "created database claimdesk, owned by claimdesk_owner ($OWNER_URL)"
fi
say "claimdesk connects as claimdesk_app ($APP_URL)"

# 3. Dovecot ----------------------------------------------------------------------------------
write_dovecot_config() {
    local identity mail_uid mail_gid
    if [ "$(id -u)" -eq 0 ]; then
        identity=$'default_internal_user = dovecot\ndefault_login_user = dovenull'
        mail_uid=65534
        mail_gid=65534
    else
        identity="default_internal_user = $(id -un)"$'\n'"default_login_user = $(id -un)"$'\n'"default_internal_group = $(id -gn)"
        mail_uid="$(id -u)"
        mail_gid="$(id -g)"
    fi
    cat >"$DOVECOT_CONF" <<EOF
# generated by scripts/run-local.sh (rewritten on every start)
instance_name = claimdesk-local
base_dir = $DOVECOT_DIR/run
state_dir = $DOVECOT_DIR/state
protocols = imap
listen = 127.0.0.1
log_path = $DOVECOT_DIR/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
$identity
first_valid_uid = 1
mail_location = maildir:$DOVECOT_DIR/mail/%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DOVECOT_DIR/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DOVECOT_DIR/users
  default_fields = uid=$mail_uid gid=$mail_gid home=$DOVECOT_DIR/mail/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
protocol imap {
  mail_max_userip_connections = 50
}
EOF
}

if pid="$(dovecot_pid)" && port_open "$IMAP_PORT"; then
    say "Dovecot already running on 127.0.0.1:$IMAP_PORT (pid $pid)"
else
    if pid="$(dovecot_pid)"; then # alive but not listening: start over
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    fi
    port_open "$IMAP_PORT" && die "127.0.0.1:$IMAP_PORT is taken by another program; stop it first"
    mkdir -p "$LOCAL" "$DOVECOT_DIR/run" "$DOVECOT_DIR/state" "$DOVECOT_DIR/mail"
    chmod 755 "$LOCAL" "$DOVECOT_DIR" "$(dirname "$DOVECOT_DIR")"
    printf '%s:{PLAIN}%s::::::\n' "$IMAP_USER" "$IMAP_PASSWORD" >"$DOVECOT_DIR/users"
    chmod 644 "$DOVECOT_DIR/users"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R 65534:65534 "$DOVECOT_DIR/mail"
        # Dovecot reads the users file as `dovecot` and the mail as uid 65534: both must be able
        # to reach this directory (a repo under /root, mode 700, is not reachable).
        if ! runuser -u dovecot -- test -r "$DOVECOT_DIR/users" ||
            ! runuser -u nobody -- test -w "$DOVECOT_DIR/mail"; then
            die "Dovecot's unprivileged users cannot reach $DOVECOT_DIR: some parent directory is not
world-searchable (e.g. /root is mode 700). Make the parents searchable (chmod o+x DIR for each),
or clone the repository under a world-searchable directory such as /srv or /opt."
        fi
    fi
    write_dovecot_config
    # Output to a file, never a pipe: the daemon keeps its stderr open for good.
    if ! "$DOVECOT" -c "$DOVECOT_CONF" </dev/null >"$DOVECOT_DIR/start.out" 2>&1; then
        cat "$DOVECOT_DIR/start.out" >&2
        tail -n 20 "$DOVECOT_DIR/dovecot.log" >&2 2>/dev/null || true
        die "could not start Dovecot (config $DOVECOT_CONF)"
    fi
    for ((i = 0; i < 200; i++)); do
        case "$(greeting "$IMAP_PORT")" in "* OK"*) break ;; esac
        sleep 0.05
    done
    case "$(greeting "$IMAP_PORT")" in
        "* OK"*) ;;
        *)
            tail -n 20 "$DOVECOT_DIR/dovecot.log" >&2 2>/dev/null || true
            die "Dovecot started but does not greet on 127.0.0.1:$IMAP_PORT"
            ;;
    esac
    say "started Dovecot on 127.0.0.1:$IMAP_PORT (user $IMAP_USER, password $IMAP_PASSWORD; state in .local/dovecot)"
fi

# 4. SMTP sink --------------------------------------------------------------------------------
mkdir -p "$SENT_DIR"
if pid="$(sink_pid)" && port_open "$SMTP_PORT"; then
    say "SMTP sink already running on 127.0.0.1:$SMTP_PORT (pid $pid)"
else
    if pid="$(sink_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || true
    fi
    port_open "$SMTP_PORT" && die "127.0.0.1:$SMTP_PORT is taken by another program; stop it first"
    # Background commands of a non-interactive shell ignore SIGINT, so Ctrl-C on claimdesk
    # leaves the sink running.
    nohup "$PYTHON" "$REPO/scripts/smtp-sink.py" --host 127.0.0.1 --port "$SMTP_PORT" --dir "$SENT_DIR" \
        </dev/null >>"$SINK_LOG" 2>&1 &
    echo $! >"$SINK_PID_FILE"
    for ((i = 0; i < 200; i++)); do
        case "$(greeting "$SMTP_PORT")" in 220*) break ;; esac
        sink_pid >/dev/null || break
        sleep 0.05
    done
    case "$(greeting "$SMTP_PORT")" in
        220*) ;;
        *)
            tail -n 20 "$SINK_LOG" >&2 2>/dev/null || true
            die "the SMTP sink did not start (log: .local/smtp-sink.log)"
            ;;
    esac
    say "started the SMTP sink on 127.0.0.1:$SMTP_PORT (pid $(cat "$SINK_PID_FILE"))"
fi

# 5. Sample mail, first run only -------------------------------------------------------------
if [ -e "$SAMPLES_MARKER" ]; then
    say "sample emails were loaded on an earlier run (delete .local/dovecot/samples-loaded to load them again)"
else
    shopt -s nullglob
    samples=("$REPO"/examples/sample-mail/*.eml)
    shopt -u nullglob
    if [ "${#samples[@]}" -eq 0 ]; then
        say "no examples/sample-mail/*.eml to load"
    else
        "$PYTHON" - "$IMAP_PORT" "$IMAP_USER" "$IMAP_PASSWORD" "${samples[@]}" <<'PY'
import imaplib, sys
port, user, password, files = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
imap = imaplib.IMAP4("127.0.0.1", port)
imap.login(user, password)
for path in files:
    with open(path, "rb") as f:
        typ, data = imap.append("INBOX", None, None, f.read())
    if typ != "OK":
        sys.exit("APPEND of %s failed: %r" % (path, data))
imap.logout()
PY
        say "appended ${#samples[@]} sample emails from examples/sample-mail/ to $IMAP_USER's INBOX"
    fi
    touch "$SAMPLES_MARKER"
fi

# 6. claimdesk --------------------------------------------------------------------------------
export CLAIMDESK_IMAP_PASSWORD="$IMAP_PASSWORD"
export CLAIMDESK__DATABASE__URL="${CLAIMDESK__DATABASE__URL:-$APP_URL}"
export CLAIMDESK__DATABASE__MIGRATE_URL="${CLAIMDESK__DATABASE__MIGRATE_URL:-$OWNER_URL}"
if [ -n "${SLACK_BOT_TOKEN:-}" ] || [ -n "${DISCORD_BOT_TOKEN:-}" ]; then
    say "chat: ${SLACK_BOT_TOKEN:+Slack }${DISCORD_BOT_TOKEN:+Discord }(from your environment)"
else
    say "chat: neither SLACK_BOT_TOKEN nor DISCORD_BOT_TOKEN is set; using the console surface"
fi
say "mail claimdesk sends lands in $SENT_DIR/ (one .eml file per message)"
WEB_BIND="${CLAIMDESK__WEB__BIND:-127.0.0.1:8080}"
say "web view: open http://$WEB_BIND/ and sign in as the sample agent with ana@claimdesk.local;"
say "  the one-time sign-in link arrives as the newest file in $SENT_DIR/ (valid 15 minutes)"
say "stop the local Dovecot and SMTP sink later with: scripts/run-local.sh stop"
if [ -n "${CLAIMDESK_RUN_LOCAL_DRY:-}" ] && [ "${CLAIMDESK_RUN_LOCAL_DRY}" != 0 ]; then
    say "CLAIMDESK_RUN_LOCAL_DRY is set: not building or starting claimdesk (would run: cargo build, then target/debug/claimdesk --config config/default.toml serve)"
    exit 0
fi
# Build in the open: the first build takes a few minutes, and cargo shows its progress.
say "building claimdesk (cargo build; the first build takes a few minutes)"
cargo build --bin claimdesk
BIN="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null ||
    echo "$REPO/target")/debug/claimdesk"
[ -x "$BIN" ] || die "cargo build finished but $BIN is missing"
say "log lines go to .local/claimdesk.log (console mode); Ctrl-C stops claimdesk"
say "starting claimdesk: $BIN --config config/default.toml serve"
exec "$BIN" --config config/default.toml serve
