#!/bin/sh
# Render alertmanager.yml with WeCom settings from the environment.
#
#   render-config.sh SRC_DIR OUT_DIR
#
# Copies SRC_DIR/alertmanager.yml and SRC_DIR/templates/ to OUT_DIR, replacing
# each __WECOM_<NAME>__ placeholder with $WECOM_<NAME>.  The API secret may come
# from a file instead ($WECOM_API_SECRET_FILE, e.g. a Docker secret).  Unset
# values keep their placeholder: Alertmanager still runs, WeCom sends fail and
# are counted in alertmanager_notifications_failed_total.
# POSIX sh only: it runs in the busybox-based prom/alertmanager image.
set -eu

src=${1:?usage: render-config.sh SRC_DIR OUT_DIR}
out=${2:?usage: render-config.sh SRC_DIR OUT_DIR}

if [ -n "${WECOM_API_SECRET_FILE:-}" ]; then
    WECOM_API_SECRET=$(cat "$WECOM_API_SECRET_FILE")
fi

mkdir -p "$out/templates"
cp "$src"/templates/*.tmpl "$out/templates/"

# sed script with one substitution per set variable.  Placeholders sit in
# single-quoted YAML strings, so a value's ' is doubled, then the value is
# escaped for the replacement side of s|||.
script=""
for name in CORP_ID API_SECRET AGENT_ID PARTY_MANAGEMENT PARTY_CRISIS_PR \
    PARTY_CROSS_DEPARTMENT PARTY_CUSTOMER_SERVICE PARTY_PLATFORM \
    PARTY_COMMUNITY_OPERATIONS PARTY_CAMPAIGN_OPERATIONS; do
    eval "value=\${WECOM_$name:-}"
    [ -n "$value" ] || continue
    case $value in
        *"
"*) echo "render-config.sh: WECOM_$name contains a newline" >&2; exit 1 ;;
    esac
    escaped=$(printf '%s' "$value" | sed -e "s/'/''/g" -e 's/[\\|&]/\\&/g')
    script="${script}s|__WECOM_${name}__|${escaped}|g
"
done

umask 077
if [ -n "$script" ]; then
    sed -e "$script" "$src/alertmanager.yml" > "$out/alertmanager.yml"
else
    cp "$src/alertmanager.yml" "$out/alertmanager.yml"
fi
