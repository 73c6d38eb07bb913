#!/bin/sh
# demo.sh: the main job on the shipped example data (run by `make demo`).
# Generates the synthetic clinic data set and inspects it and the UCI
# Adult extract, as a provider would before registering them. Later
# stages of the pipeline join this script as they land.
set -eu
B=${1:-build}
out="$B/demo"
mkdir -p "$out"

echo "== 1. Generate 20,000 synthetic clinic visits (seed 1)"
"$B/clinic-gen" --rows 20000 --seed 1 --out "$out/clinic.csv"
head -3 "$out/clinic.csv"
echo

echo "== 2. veil inspect: what the provider is about to register"
"$B/veil" inspect --data "$out/clinic.csv" --schema examples/clinic/schema.lua
echo

echo "== 3. veil inspect on the UCI Adult extract (../shared/data/adult)"
"$B/veil" inspect --data ../shared/data/adult/adult.csv \
    --schema examples/adult/schema.lua
echo

echo "== 4. A buyer develops a job on mock data (veil mock), with row access"
"$B/veil" mock --schema examples/clinic/schema.lua --rows 2000 --seed 7 \
    --out "$out/mock.csv"
"$B/veil" run examples/jobs/explore.lua --data "$out/mock.csv" \
    --schema examples/clinic/schema.lua \
    --policy examples/clinic/policy_threshold.lua --mock
echo

echo "== 5. The job runs confined on the real data; only aggregates leave"
echo "   (threshold mode: exact values of groups of at least k patients)"
"$B/veil" run examples/jobs/visits.lua --data "$out/clinic.csv" \
    --schema examples/clinic/schema.lua \
    --policy examples/clinic/policy_threshold.lua
echo

echo "== 6. The same job under differential privacy (the data set's policy),"
echo "   charged to a budget ledger: noisy values with their epsilon"
rm -f "$out/ledger.db"
"$B/veil" run examples/jobs/visits.lua --data "$out/clinic.csv" \
    --schema examples/clinic/schema.lua \
    --policy examples/clinic/policy.lua --ledger "$out/ledger.db" \
    --buyer acme-insurance
echo
echo "   ... and again, until the budget is spent:"
n=0
while "$B/veil" run examples/jobs/visits.lua --data "$out/clinic.csv" \
    --schema examples/clinic/schema.lua \
    --policy examples/clinic/policy.lua --ledger "$out/ledger.db" \
    --buyer acme-insurance --json > /dev/null 2>&1; do
	n=$((n + 1))
done
echo "   $n more jobs ran; the next one is refused:"
rc=0
"$B/veil" run examples/jobs/visits.lua --data "$out/clinic.csv" \
    --schema examples/clinic/schema.lua \
    --policy examples/clinic/policy.lua --ledger "$out/ledger.db" \
    --buyer acme-insurance > /dev/null || rc=$?
echo "   (exit status $rc: refused by policy)"
echo

echo "== 7. An AI team takes a desensitized export: identifiers pseudonymized,"
echo "   masked or dropped, personal data scrubbed from the notes, dates"
echo "   shifted per patient, quasi-identifiers generalized to k-anonymity"
"$B/veil" anonymize --data "$out/clinic.csv" --schema examples/clinic/schema.lua \
    --policy examples/clinic/policy_export.lua --out "$out/clinic_export.csv" \
    --report "$out/clinic_report.json"
head -4 "$out/clinic_export.csv"
echo

echo "== 8. The UCI Adult benchmark: optimal 5-anonymity with 4% suppression"
"$B/veil" anonymize --data ../shared/data/adult/adult.csv \
    --schema examples/adult/schema.lua --policy examples/adult/policy_k5.lua \
    --out "$out/adult_k5.csv"
echo

echo "== 9. A malformed file is refused with its line, column and text"
printf 'patient_id,name,id_number,phone,email,sex,birth_date,postal_code,visit_date,diagnosis,cost,readmitted,notes\n' > "$out/bad.csv"
sed -n 2,3p "$out/clinic.csv" >> "$out/bad.csv"
printf 'P9,x,x,x,,M,1980-02-30,100010,2024-01-01,J45,12.50,false,\n' >> "$out/bad.csv"
rc=0
"$B/veil" inspect --data "$out/bad.csv" --schema examples/clinic/schema.lua || rc=$?
if [ "$rc" -ne 2 ]; then
	echo "demo: expected exit status 2 for a malformed file, got $rc" >&2
	exit 1
fi
echo "(exit status 2: invalid input; nothing was loaded)"
