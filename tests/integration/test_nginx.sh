#!/bin/bash
# conf/nginx/dawn.conf, run by Debian's nginx with a throwaway certificate in
# front of dawnd (only its ports, names and paths changed): a partner posts
# a report over HTTPS; a browser-like client upgrades to wss://.../mqtt with
# the site's own Origin and logs in to the broker through the relay (CONNACK),
# a foreign Origin is refused and one in daemon.allowed_origins accepted; the
# dashboard's page is served; dawnd logs the client's address from nginx's
# X-Forwarded-For (daemon.trusted_proxies) and ignores what a client claims.
. "$(dirname "$0")/lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed (scripts/deps.sh installs it)"; exit 1; }

start_example_broker st-marys-pharmacy
mkdir -p "$T/dashboard"
printf '<!doctype html><title>DAWN</title>\n' >"$T/dashboard/index.html"
printf 'console.log("app");\n' >"$T/dashboard/app.js"
printf 'body{}\n' >"$T/dashboard/style.css"
printf 'ph-7f3a9c0e5b21\n' >"$T/portsmouth-ph.token"
HTTP_LISTEN="127.0.0.1:$(free_port)"
write_config
config_dawnd_login
sed -i -e "s#http_listen = \"$HTTP_LISTEN\";#http_listen = \"$HTTP_LISTEN\"; dashboard_dir = \"$T/dashboard\"; trusted_proxies = [ \"127.0.0.1\", \"::1\" ]; allowed_origins = [ \"https://Dashboard.Example.ORG:443\" ];#" \
        -e "s#{ id = \"portsmouth-ph\"; role = \"issuer\"; }#{ id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"$T/portsmouth-ph.token\"; }#" \
        "$T/dawn.conf"
check "the config has the proxy keys and the token" \
        bash -c "grep -q 'trusted_proxies' '$T/dawn.conf' && grep -q 'portsmouth-ph.token' '$T/dawn.conf'"
# the keys' mistakes, named
sed -e 's#trusted_proxies = \[ "127.0.0.1", "::1" \]#trusted_proxies = [ "127.0.0.1", "10.0.0.1/8", "proxy.local" ]#' \
        -e 's#allowed_origins = \[ "https://Dashboard.Example.ORG:443" \]#allowed_origins = [ "https://dashboard.example.org/" ]#' \
        "$T/dawn.conf" >"$T/bad.conf"
"$DAWND" -n -c "$T/bad.conf" >"$T/bad.out" 2>&1
check "dawnd -n names a network with host bits and a name in trusted_proxies" \
        bash -c "grep -q \"daemon.trusted_proxies: '10.0.0.1/8' is not an address or a network\" '$T/bad.out' &&
                 grep -q \"daemon.trusted_proxies: 'proxy.local' is not an address or a network\" '$T/bad.out'"
check "and an origin with a path in allowed_origins" \
        grep -q "daemon.allowed_origins: 'https://dashboard.example.org/' is not an origin" "$T/bad.out"
start_dawnd

# ---- nginx, with the example site file ----
N="$T/nginx"
mkdir -p "$N"
NGINX_PORT=$(free_port)
PLAIN_PORT=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$N/site.key" -out "$N/site.crt" >/dev/null 2>&1 ||
        { echo "openssl could not make a test certificate"; exit 1; }
sed -e "/listen \[::\]:/d" -e "s#listen 80;#listen 127.0.0.1:$PLAIN_PORT;#" \
        -e "s#listen 443 ssl;#listen 127.0.0.1:$NGINX_PORT ssl;#" \
        -e "s#server 127.0.0.1:8470;#server $HTTP_LISTEN;#" \
        -e "s#/etc/letsencrypt/live/dawn.example.org/fullchain.pem#$N/site.crt#" \
        -e "s#/etc/letsencrypt/live/dawn.example.org/privkey.pem#$N/site.key#" \
        "$ROOT/conf/nginx/dawn.conf" >"$N/dawn-site.conf"
check "the site file has what the test replaces" bash -c "grep -q 'listen 127.0.0.1:$NGINX_PORT ssl;' '$N/dawn-site.conf' &&
        grep -q 'server $HTTP_LISTEN;' '$N/dawn-site.conf' && grep -q '$N/site.key' '$N/dawn-site.conf' &&
        ! grep -v '^ *#' '$N/dawn-site.conf' | grep -q -e ':8470' -e letsencrypt"
# the main file Debian's /etc/nginx/nginx.conf would be, everything in $N, run as this user
{
        [ "$(id -u)" -eq 0 ] && echo "user root;"
        cat <<EOC
daemon off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 128; }
http {
        access_log $N/access.log;
        client_body_temp_path $N/body;
        proxy_temp_path $N/proxy;
        fastcgi_temp_path $N/fastcgi;
        uwsgi_temp_path $N/uwsgi;
        scgi_temp_path $N/scgi;
        include $N/dawn-site.conf;
}
EOC
} >"$N/nginx.conf"
check "nginx -t accepts the example site" "$NGINX" -t -q -p "$N" -c "$N/nginx.conf" -e "$N/error.log"
"$NGINX" -p "$N" -c "$N/nginx.conf" -e "$N/error.log" >>"$N/stdout.log" 2>&1 &
NGINX_PID=$!
stop_nginx() { kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; }
trap 'stop_nginx; cleanup' EXIT
SITE="https://127.0.0.1:$NGINX_PORT"
wait_for "curl -s --cacert '$N/site.crt' -o /dev/null '$SITE/healthz'" 10 ||
        { echo "nginx did not start"; cat "$N/error.log"; exit 1; }

# ---- a partner's report over HTTPS ----
report='{"type":"batch","area":"portsmouth","summary":"Pink pills sold as MDMA contain a nitazene.","sold_as":["mdma"],"adulterants":["nitazene"],"source_ref":"ph-nginx-1"}'
status=$(curl -s --cacert "$N/site.crt" -o "$T/post.json" -w '%{http_code}' -H "Authorization: Bearer ph-7f3a9c0e5b21" \
        -H 'Content-Type: application/json' --data-binary "$report" "$SITE/v1/alerts")
check "a partner's POST /v1/alerts over HTTPS is accepted (201)" test "$status" = 201
id=$(json_get "$T/post.json" .id)
check "and the alert is in dawnd" bash -c "\"$DAWNCTL\" --json show '$id' | grep -q 'Pink pills'"
check "plain HTTP is sent to HTTPS" \
        test "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$PLAIN_PORT/v1/alerts")" = \
        "301 https://127.0.0.1/v1/alerts"

# ---- the dashboard's page ----
code=$(curl -s --cacert "$N/site.crt" -D "$T/h.txt" -o "$T/index.html" -w '%{http_code}' "$SITE/")
check "GET / through nginx serves the dashboard's page" \
        test "$code $(cat "$T/index.html")" = "200 <!doctype html><title>DAWN</title>"
check "with dawnd's Content-Security-Policy" grep -qi "^Content-Security-Policy: default-src 'self'" "$T/h.txt"
check "/metrics is for loopback only (this test is loopback: served)" \
        bash -c "curl -s --cacert '$N/site.crt' '$SITE/metrics' | grep -q '^dawn_'"

# ---- the /mqtt WebSocket: the site's own Origin, a foreign one, an allowed one ----
WSS() { WS_TLS_CA="$N/site.crt" /usr/bin/python3 "$ROOT/tests/dashboard/ws_client.py" "127.0.0.1:$NGINX_PORT" "$@"; }
check "an upgrade from the site's own page (Origin $SITE) is switched (101)" \
        bash -c "$(declare -f WSS); N='$N' ROOT='$ROOT' NGINX_PORT=$NGINX_PORT WSS handshake | grep -q ' 101 '"
WSS mqtt st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/status" >"$T/ws1.txt" 2>&1
check "and through nginx and the relay the pharmacy logs in to the broker (CONNACK 0)" grep -q '^connack 0$' "$T/ws1.txt"
check "and receives the daemon's status" grep -q "^$PREFIX/status" "$T/ws1.txt"
check "a page from another site is refused (403)" \
        bash -c "$(declare -f WSS); N='$N' ROOT='$ROOT' NGINX_PORT=$NGINX_PORT WSS handshake 'Origin: https://evil.example' | grep -q ' 403 '"
check "the same host on another port is another site (403)" \
        bash -c "$(declare -f WSS); N='$N' ROOT='$ROOT' NGINX_PORT=$NGINX_PORT WSS handshake 'Origin: https://127.0.0.1:$PLAIN_PORT' | grep -q ' 403 '"
WS_ORIGIN=https://dashboard.example.org WSS mqtt st-marys-pharmacy pw-st-marys-pharmacy "$PREFIX/status" >"$T/ws2.txt" 2>&1
check "a page from a name in daemon.allowed_origins logs in (CONNACK 0)" grep -q '^connack 0$' "$T/ws2.txt"

# ---- the client's address: nginx's X-Forwarded-For, believed from a trusted proxy only ----
# the client connects from 127.0.0.3 and claims to be 198.51.100.7; nginx appends 127.0.0.3
curl -s --cacert "$N/site.crt" --interface 127.0.0.3 -o /dev/null -H "X-Forwarded-For: 198.51.100.7" \
        -H "Authorization: Bearer wrong" -H 'Content-Type: application/json' --data-binary "$report" "$SITE/v1/alerts"
check "dawnd logs the client nginx saw, via nginx" \
        wait_for "grep -q 'POST /v1/alerts from 127.0.0.3 via 127.0.0.1 refused (401)' '$T/dawnd.log'" 5
check "not the address the client claimed" bash -c "! grep -q '198.51.100.7' '$T/dawnd.log'"
WSS mqtt st-marys-pharmacy wrong-password "$PREFIX/status" >"$T/ws3.txt" 2>&1
check "a wrong password through nginx is the broker's refusal (CONNACK 5)" grep -q '^connack 5$' "$T/ws3.txt"
check "which the relay logs with the browser's address behind nginx" \
        wait_for "grep -q \"dashboard relay (127.0.0.1 via 127.0.0.1): the broker refused the login of 'st-marys-pharmacy'\" '$T/dawnd.log'" 5
# straight to dawnd from 127.0.0.3, which is not a trusted proxy: its X-Forwarded-For is ignored
curl -s --interface 127.0.0.3 -o /dev/null -H "X-Forwarded-For: 203.0.113.9" -H "Authorization: Bearer wrong" \
        -H 'Content-Type: application/json' --data-binary "$report" "http://$HTTP_LISTEN/v1/alerts"
check "a client that is not a trusted proxy is logged as itself" \
        wait_for "grep -q 'POST /v1/alerts from 127.0.0.3 refused (401)' '$T/dawnd.log'" 5
check "whatever it claims" bash -c "! grep -q '203.0.113.9' '$T/dawnd.log'"
check "dawnd is still serving through nginx" \
        test "$(curl -s --cacert "$N/site.crt" -o /dev/null -w '%{http_code}' "$SITE/healthz")" = 200
finish
