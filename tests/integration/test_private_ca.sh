#!/bin/bash
# A private CA (channels.X.ca_file): an SMTP relay with real STARTTLS and an
# SMS gateway over HTTPS, both with certificates from a throwaway
# organisation CA made here. With ca_file the mail and the text go; without
# it they are refused with a clear certificate error and wait; putting it
# back with `dawnctl reload` sends them. `dawnd -n` refuses a ca_file that
# is not a PEM bundle, naming the key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/delivery.sh"

# ---- the organisation's CA and the servers' certificate (signed by it, not self-signed) ----
P="$T/pki"
mkdir -p "$P"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/O=Test NHS Trust/CN=Test NHS Trust Root CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$P/ca.key" -out "$P/ca.crt" >/dev/null 2>&1 &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
                -keyout "$P/server.key" -out "$P/server.csr" >/dev/null 2>&1 &&
        printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$P/ext" &&
        openssl x509 -req -in "$P/server.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
                -extfile "$P/ext" -out "$P/server.crt" >/dev/null 2>&1 ||
        { echo "openssl could not make the test CA"; exit 1; }
check "the server's certificate chains to the test CA only" \
        bash -c "openssl verify -CAfile '$P/ca.crt' '$P/server.crt' >/dev/null && ! openssl verify '$P/server.crt' >/dev/null 2>&1"

start_broker
start_gateway --tls-cert "$P/server.crt" --tls-key "$P/server.key"
start_smtp --tls-cert "$P/server.crt" --tls-key "$P/server.key"
write_delivery_config
# HTTPS to the gateway, STARTTLS required to the relay, both trusting the CA
sed -i -e "s#base_url = \"http://127.0.0.1:$GW_PORT\";#base_url = \"https://127.0.0.1:$GW_PORT\"; ca_file = \"$P/ca.crt\";#" \
        -e "s#tls = \"none\";#tls = \"required\"; ca_file = \"$P/ca.crt\";#" "$T/dawn.conf"
check "the config names both CA files" test "$(grep -c "ca_file = \"$P/ca.crt\"" "$T/dawn.conf")" -eq 2

# ---- dawnd -n reads and parses the bundle ----
check "dawnd -n accepts the CA bundle" "$DAWND" -n -c "$T/dawn.conf"
printf 'this is not a certificate\n' >"$P/notpem.crt"
sed -e "s#tls = \"required\"; ca_file = \"$P/ca.crt\";#tls = \"required\"; ca_file = \"$P/notpem.crt\";#" \
        "$T/dawn.conf" >"$T/bad.conf"
"$DAWND" -n -c "$T/bad.conf" >"$T/bad.out" 2>&1
rc=$?
check "dawnd -n refuses a ca_file that is not PEM (exit 1)" test $rc -ne 0
check "naming the key and saying what is wrong" grep -q "channels.email.ca_file: $P/notpem.crt: no certificate in it" "$T/bad.out"
sed -e "s#base_url = \"https://127.0.0.1:$GW_PORT\"; ca_file = \"$P/ca.crt\";#base_url = \"https://127.0.0.1:$GW_PORT\"; ca_file = \"$P/missing.crt\";#" \
        "$T/dawn.conf" >"$T/bad2.conf"
"$DAWND" -n -c "$T/bad2.conf" >"$T/bad2.out" 2>&1
check "and a ca_file that does not exist, naming the key" grep -q "channels.sms.ca_file: $P/missing.crt: cannot read it" "$T/bad2.out"
# a PEM block that is not a certificate (the server's key): still no certificate in it
sed -e "s#tls = \"required\"; ca_file = \"$P/ca.crt\";#tls = \"required\"; ca_file = \"$P/ca.key\";#" \
        "$T/dawn.conf" >"$T/bad3.conf"
"$DAWND" -n -c "$T/bad3.conf" >"$T/bad3.out" 2>&1
check "a key instead of a certificate is refused too" grep -q "channels.email.ca_file: $P/ca.key: no certificate in it" "$T/bad3.out"

# ---- with the CA: the text over HTTPS and the mail over STARTTLS go ----
start_dawnd
check "dawnd says it trusts the bundle for each channel" \
        bash -c "grep -q 'channels.sms: trusting 1 certificate from $P/ca.crt' '$T/dawnd.log' &&
                 grep -q 'channels.email: trusting 1 certificate from $P/ca.crt' '$T/dawnd.log'"
ctl --json issue --area southampton --sold-as heroin --adulterant nitazene --evidence toxicology --casualties 3 \
        "Heroin in Southampton contains a nitazene." >"$T/a1.json"
check "the text reaches the HTTPS gateway" wait_for "[ \$(sms_count +447700900123 201) -ge 1 ]" 15
check "the mail is accepted by the STARTTLS relay" \
        wait_for "grep -q '\"status\": 250.*nights@booth-house.example' '$T/smtp.jsonl'" 15
check "every delivery of A1 is delivered" wait_for '[ "$(states A1)" = delivered ]' 15

# ---- without it: refused, a clear certificate error, nothing lost ----
sed -i -e "s# ca_file = \"$P/ca.crt\";##g" "$T/dawn.conf"
ctl reload >/dev/null
ctl --json issue --area southampton --sold-as cocaine --adulterant xylazine "Cocaine with xylazine in Southampton." \
        >"$T/a2.json"
check "without ca_file the email channel says the certificate was refused" \
        wait_for "ctl status | grep -A1 '^  email:' | grep -q 'last attempt failed:.*certificate'" 15
check "and so does the SMS channel" wait_for "ctl status | grep -A1 '^  sms:' | grep -q 'last attempt failed:.*certificate'" 15
ctl status >"$T/status.txt"
check "the error says why: the issuer is unknown" grep -q "unable to get local issuer certificate" "$T/status.txt"
check "dawnd logs it once as the relay refusing us" \
        test "$(grep -c 'email: smtp://127.0.0.1:[0-9]* refuses us: .*certificate' "$T/dawnd.log")" -eq 1
# each of A2's deliveries has had its first attempt by now, or soon (under ASan, a
# moment after the first refusal showed in status)
text_mail_states() {
        "$DAWNCTL" --json show A2 | /usr/bin/python3 -c 'import json,sys
print(" ".join(sorted(set(d["state"] for d in json.load(sys.stdin)["deliveries"] if d["channel"] in ("sms","email")))))'
}
check "A2's texts and mails wait to be retried, not failed" wait_for '[ "$(text_mail_states)" = retrying ]' 15
check "nothing reached the gateway or the relay for A2" \
        bash -c "[ \$(grep -c 'A2-r1-' '$T/sms.jsonl') -eq 0 ] && [ \$(grep -c '\"status\": 250' '$T/smtp.jsonl') -eq 2 ]"

# ---- the CA back, by reload, in a bundle of two (another CA first): what waited goes ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=Another CA" \
        -keyout "$P/other.key" -out "$P/other.crt" >/dev/null 2>&1
cat "$P/other.crt" "$P/ca.crt" >"$P/bundle.crt"
sed -i -e "s#base_url = \"https://127.0.0.1:$GW_PORT\";#base_url = \"https://127.0.0.1:$GW_PORT\"; ca_file = \"$P/bundle.crt\";#" \
        -e "s#tls = \"required\";#tls = \"required\"; ca_file = \"$P/bundle.crt\";#" "$T/dawn.conf"
ctl reload >/dev/null
check "the reload reads the new bundle (two certificates)" \
        wait_for "grep -q 'channels.email: trusting 2 certificates from $P/bundle.crt' '$T/dawnd.log'" 5
check "after the reload A2's deliveries go out" wait_for '[ "$(states A2)" = delivered ]' 20
check "A2's text went over HTTPS" test "$(sms_count +447700900123 201 A2-r1-)" -ge 1
finish
