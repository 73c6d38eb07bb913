/*
 * replay.c: a main() for fuzz targets built without libFuzzer. It runs
 * every file under the directories (or files) named on the command line
 * through LLVMFuzzerTestOneInput, "looking for crashes, assertion faults,
 * and/or memory leaks" (as SQLite's fuzzcheck puts it); it checks no
 * output. Under `make asan` the sanitizers do the looking.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
	FILE *fp;
	uint8_t *buf;
	long len;

	if ((fp = fopen(path, "rb")) == NULL) {
		warn("%s", path);
		return 1;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0) {
		warn("%s", path);
		fclose(fp);
		return 1;
	}
	if ((buf = malloc((size_t)len + 1)) == NULL)
		err(1, "malloc");
	if (len > 0 && fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		warn("%s: short read", path);
		free(buf);
		fclose(fp);
		return 1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct dirent *de;
	struct stat st;
	char path[4096];
	DIR *d;
	int i, n = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			err(1, "%s", argv[i]);
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			n++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL)
			err(1, "%s", argv[i]);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			bad |= run_file(path);
			n++;
		}
		closedir(d);
	}
	printf("replayed %d inputs\n", n);
	return bad;
}
