#!/usr/bin/env bash
# Prepares a Debian machine for the system: installs the packages it needs (apt-get)
# and, with --services, starts PostgreSQL and NATS (JetStream) on their standard
# loopback ports when they do not answer. Says what it does; changes nothing that
# is already in place.
set -euo pipefail

say() { echo "prepare: $*"; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
{ command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; } || need+=(nats-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ "${1:-}" = "--services" ]; then
    # the tests' own needs: the browser test of АРМ РШЭП (headless Chromium over
    # WebDriver) and pdftotext to read the result documents back
    [ -x /usr/bin/chromium ] || need+=(chromium)
    { [ -x /usr/bin/chromedriver ] || [ -x /usr/lib/chromium/chromedriver ]; } || need+=(chromium-driver)
    command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
    # ZBar, the outside reader of ИС ЦОН's Code 128 covers
    command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
    # the outside clients of the diagrams (bpmnlint, bpmn-moddle, bpmn-js) run on Node
    command -v node >/dev/null 2>&1 || need+=(nodejs)
    command -v npm >/dev/null 2>&1 || need+=(npm)
    # tests/stack validates docker-compose.yml with Debian's docker-compose (no engine)
    command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
fi
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]} with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    say "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again"
    exit 1
fi

if [ "${1:-}" = "--services" ]; then
    if answers 5432; then
        say "PostgreSQL answers on 127.0.0.1:5432"
    else
        cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -n "$cluster" ]; then
            say "starting PostgreSQL $cluster (pg_ctlcluster)"
            $SUDO pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
        else
            say "no PostgreSQL cluster in /etc/postgresql: create one with pg_createcluster"
            exit 1
        fi
        for _ in $(seq 1 30); do answers 5432 && break; sleep 0.5; done
        answers 5432 || { say "PostgreSQL did not come up on 5432"; exit 1; }
    fi
    if answers 4222; then
        say "NATS answers on 127.0.0.1:4222"
    else
        store="${EGOV_DATA_DIR:-$PWD/.egov}/nats-system"
        mkdir -p "$store"
        nats=$(command -v nats-server || echo /usr/sbin/nats-server)
        say "starting NATS with JetStream on 127.0.0.1:4222 (store $store)"
        setsid "$nats" -a 127.0.0.1 -p 4222 -js -sd "$store" -l "$store/nats-server.log" </dev/null >/dev/null 2>&1 &
        for _ in $(seq 1 30); do answers 4222 && break; sleep 0.3; done
        answers 4222 || { say "NATS did not come up on 4222 (see $store/nats-server.log)"; exit 1; }
    fi
fi

if [ "${1:-}" = "--services" ]; then
    # the npm packages of tests/js, exactly as package-lock.json pins them
    if [ ! -f tests/js/node_modules/.package-lock.json ] \
        || [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; then
        say "installing the outside clients of tests/js (npm ci)"
        npm ci --prefix tests/js --no-audit --no-fund --loglevel=error >/dev/null
    fi
    # the Python outside clients of tests/py, as requirements.txt pins them
    if [ ! -x tests/py/.venv/bin/python ] \
        || [ tests/py/requirements.txt -nt tests/py/.venv/installed ]; then
        say "installing the Python outside clients of tests/py (venv, pip)"
        python3 -m venv tests/py/.venv
        tests/py/.venv/bin/pip install -q -r tests/py/requirements.txt
        touch tests/py/.venv/installed
    fi
fi
