#!/bin/sh
# Stands in for `odoo-bin -d DB -u all --stop-after-init` in the demo plan: it
# prints the lines Odoo logs while it updates modules. It changes nothing.
# An optional fourth argument paces the lines (seconds each) so that a person
# watching the demo sees the progress move.
db="$1"; from="$2"; to="$3"; pace="${4:-0}"
echo "INFO $db odoo: Odoo version $to (upgrading from $from)"
n=0
set -- base web base_setup bus mail contacts product account sale sale_management stock purchase \
       delivery payment payment_stripe website website_sale fetchmail calendar google_calendar \
       auth_oauth iap base_automation crm acme_delivery_rules acme_invoice_layout
total=$#
for m in "$@"; do
  n=$((n + 1))
  echo "DEBUG $db odoo.modules.loading: Loading module $m ($n/$total)"
  [ "$pace" = 0 ] || sleep "$pace"
done
echo "INFO $db odoo.modules.loading: $total modules loaded"
echo "INFO $db odoo.service.server: Stopping gracefully"
