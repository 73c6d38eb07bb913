#!/bin/sh
# run.sh: runs the unit tests (cmocka) and replays the fuzz corpora, then
# prints one closing line, "N passed, M failed". Usage (from the Makefile):
#   B=build sh tests/run.sh UNIT... -- FUZZ...
# Each unit test runs from the top of the tree, with VEIL_BUILD pointing at
# the build directory so that tests can find programs such as veil.
B=${B:-build}
export VEIL_BUILD="$B"
pass=0
fail=0
failed=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT
phase=unit
for t in "$@"; do
	if [ "$t" = "--" ]; then
		phase=fuzz
		continue
	fi
	if [ $phase = unit ]; then
		bin="$B/tests/test_$t"
		"$bin" >"$log" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
		p=${p:-0}
		f=${f:-0}
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1	# crashed before cmocka could count
		fi
		if [ "$f" -ne 0 ]; then
			cat "$log"
			failed="$failed test_$t"
		fi
		printf '%-24s %4d passed, %d failed\n' "test_$t" "$p" "$f"
	else
		dir="tests/fuzz/corpus/$t"
		if "$B/tests/replay_$t" "$dir" >"$log" 2>&1; then
			p=$(ls "$dir" | wc -l)
			f=0
		else
			cat "$log"
			p=0
			f=1
			failed="$failed replay_$t"
		fi
		printf '%-24s %4d passed, %d failed\n' "replay_$t" "$p" "$f"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
done
[ -n "$failed" ] && echo "failing:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
