#!/bin/sh
# demo.sh: the main job on the shipped example data (run by `make demo`).
# Generates the synthetic clinic data set and inspects it and the UCI
# Adult extract, as a provider would before registering them; runs jobs
# on mock and real data, de-identifies exports, and ends with the whole
# exchange: veild started here, parties, a data set, a job, the audit.
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
echo

# The exchange end to end. veild runs in the background for the rest of
# the script; the trap stops it (SIGTERM, then waits for it) however the
# script ends, so a failing step never leaves a daemon behind.
X="$out/exchange"
H="$X/home"
veild_pid=
stop_veild() {
	if [ -n "$veild_pid" ]; then
		kill -TERM "$veild_pid" 2>/dev/null || :
		wait "$veild_pid" 2>/dev/null || :
		veild_pid=
	fi
}
trap 'stop_veild' EXIT
trap 'stop_veild; exit 130' INT
trap 'stop_veild; exit 143' TERM
rm -rf "$X"
mkdir -p "$X"

echo "== 10. The operator creates an exchange and starts the daemon, veild"
echo "   (a fresh home in $H; the operator's token goes to a file of mode 0600)"
"$B/veil" init --home "$H" --token-out "$X/operator.token"
"$B/veild" --home "$H" --workers 2 > "$X/veild.log" 2>&1 &
veild_pid=$!
i=0
while [ ! -S "$H/veil.sock" ]; do
	if ! kill -0 "$veild_pid" 2>/dev/null; then
		veild_pid=
		echo "demo: veild exited at start:" >&2
		cat "$X/veild.log" >&2
		exit 1
	fi
	if [ "$i" -ge 100 ]; then
		echo "demo: no $H/veil.sock after 10 s" >&2
		exit 1
	fi
	sleep 0.1
	i=$((i + 1))
done
echo "veild: listening on $H/veil.sock (its log: $X/veild.log)"
# Every exchange command below names the home and the acting party's token.
op() { "$B/veil" "$@" --home "$H" --token-file "$X/operator.token"; }
clinic() { "$B/veil" "$@" --home "$H" --token-file "$X/clinic.token"; }
acme() { "$B/veil" "$@" --home "$H" --token-file "$X/acme.token"; }
audit() { "$B/veil" "$@" --home "$H" --token-file "$X/audit.token"; }
echo

echo "== 11. The operator adds a provider, a buyer and an auditor; each token"
echo "   is shown once, here written to a file that its party names"
op party add city-clinic --role provider --token-out "$X/clinic.token"
op party add acme-insurance --role buyer --token-out "$X/acme.token"
op party add compliance --role auditor --token-out "$X/audit.token"
echo

echo "== 12. The provider registers the clinic data (de-identified in a confined"
echo "   child), the operator approves it, the provider grants the buyer epsilon 2"
echo "   (classification level 3 caps the policy at 3 in total, 0.5 per job)"
clinic dataset register clinic_visits --data "$out/clinic.csv" \
    --schema examples/clinic/schema.lua --policy examples/clinic/policy.lua
op dataset approve clinic_visits
clinic grant clinic_visits --to acme-insurance --epsilon 2 \
    --purpose "actuarial research"
echo

echo "== 13. The buyer submits the job to veild and waits; veild stores the"
echo "   released results, so fetching them again gives the same noisy values"
echo "   and spends nothing"
acme job submit examples/jobs/visits.lua --dataset clinic_visits --wait \
    --json > "$X/submit.json"
job=$(sed -n 's/^{"job":\([0-9][0-9]*\),.*/\1/p' "$X/submit.json")
if [ -z "$job" ]; then
	echo "demo: no job id in $X/submit.json" >&2
	exit 1
fi
acme job result "$job"
acme job result "$job" --json > "$X/result.json"
cmp "$X/submit.json" "$X/result.json"
echo "   (job result $job --json is byte for byte what job submit --wait --json printed)"
echo

echo "== 14. The buyer's budget: one job of epsilon 0.5 spent out of 2"
acme budget
echo

echo "== 15. The auditor reads the end of the audit log and checks its hash chain"
audit audit tail -n 5
audit audit verify
echo

echo "== 16. The buyer may not read the audit log or the provider's usage"
for cmd in "audit tail" "usage"; do
	rc=0
	# shellcheck disable=SC2086 # the words of $cmd are the subcommand
	acme $cmd 2>&1 || rc=$?
	if [ "$rc" -ne 4 ]; then
		echo "demo: expected exit status 4 for the buyer's veil $cmd, got $rc" >&2
		exit 1
	fi
	echo "   (veil $cmd: exit status 4, refused)"
done
echo

echo "== 17. SIGTERM stops veild: running jobs finish, then it exits"
kill -TERM "$veild_pid"
rc=0
wait "$veild_pid" || rc=$?
veild_pid=
cat "$X/veild.log"
if [ "$rc" -ne 0 ]; then
	echo "demo: veild exited with status $rc" >&2
	exit 1
fi
echo "(veild exited with status 0)"
