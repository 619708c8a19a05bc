#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine: PostgreSQL (store tests), headless Chromium
# (browser layout check), Python 3 (the e-mail package checks our MIME) with ftfy (a second opinion on
# mojibake repair), aiosmtpd and dkimpy, moto_server (Amazon SES's API), Postfix (smtp-sink,
# smtp-source, and the real MTA of the bounce loop), swaks, Dovecot (IMAP), Sisimai (a second opinion on bounces) and openssl. Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# chromedriver: the WebDriver server the console's browser tests drive Chromium through.
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# npm: fetches axe-core, the accessibility checker the console's browser tests run in each page.
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Postfix's smtp-sink/smtp-source: the real SMTP servers and the speed reference of `send`.
command -v smtp-sink >/dev/null 2>&1 || missing+=(postfix)
command -v swaks >/dev/null 2>&1 || missing+=(swaks)
# openssl makes the test DKIM key and the untrusted TLS certificate.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Dovecot: the IMAP server `bounces process --imap` is tested against.
command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
# NSD: the authoritative DNS server on loopback that `doctor` is tested against.
{ command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ]; } || missing+=(nsd)
# Sisimai: the second opinion on every bounce fixture (tests/it/bounces.rs sisimai_second_opinion).
perl -MSisimai -e 1 >/dev/null 2>&1 || missing+=(libsisimai-perl)
# systemd-analyze verifies the service units in deploy/ (tests/it/deploy.rs).
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# groff reads the generated manual pages (tests/it/man.rs).
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    # Local-only, so that installing it never turns this machine into a relay.
    echo 'postfix postfix/main_mailer_type select Local only' | $SUDO debconf-set-selections
    echo 'postfix postfix/mailname string newsletter.test' | $SUDO debconf-set-selections
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres: the second backend of every store test.
if ! command -v psql >/dev/null 2>&1 || ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing: postgresql"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)
    # Tests connect over loopback as postgres without a password, as on the development machines.
    $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi

# ftfy is a second opinion on mojibake repair in tests/it/check.rs.
if ! python3 -c "import ftfy" >/dev/null 2>&1; then
  echo "installing: ftfy (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "ftfy==6.3.1"
fi
# aiosmtpd: an SMTP server whose per-recipient answers a test script decides (550/451 faults, AUTH);
# dkimpy: an independent DKIM verifier of our signatures.
if ! python3 -c "import aiosmtpd, dkim" >/dev/null 2>&1; then
  echo "installing: aiosmtpd, dkimpy (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "aiosmtpd==1.4.6" "dkimpy==1.1.8"
fi
# moto_server: Amazon SES's API on loopback, the endpoint of the SES transport's tests (tests/it/ses.rs);
# boto3 to look at it by hand (the tests talk to it over plain HTTP).
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import moto, sys; sys.exit(moto.__version__ != '5.2.5')" >/dev/null 2>&1; then
  echo "installing: moto[server], boto3 (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check "moto[server]==5.2.5" boto3
fi
# axe-core, pinned, into tests/tools/ (ignored by git): tests/it/console_browser.rs injects it.
if [ ! -f tests/tools/node_modules/axe-core/axe.min.js ]; then
  echo "installing: axe-core (npm)"
  mkdir -p tests/tools
  npm install --silent --no-audit --no-fund --prefix tests/tools axe-core@4.10.3 >/dev/null
fi
echo "test dependencies present: $(psql --version | head -n 1), Sisimai $(perl -MSisimai -e 'print $Sisimai::VERSION'), chromium $(chromium --version 2>/dev/null | awk '{print $2}'), $(python3 --version), ftfy $(python3 -c 'import ftfy; print(ftfy.__version__)'), $(command -v smtp-sink), $(/usr/sbin/nsd -v 2>&1 | head -n 1)"
