/*
 * test_io_faults.c - I/O error injection, as SQLite tests itself: a VFS wrapped around the
 * default one makes the N-th write, sync or truncate of the database files fail, and every
 * one after it until the fault is cleared (a disk that went bad, or full). For every N until
 * a run gets through, the run must stop with an error naming the database file, and once
 * the fault is cleared the database passes its integrity check, keeps every checkpoint that
 * was committed, and the run completes from it with the output of a run that never failed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define GEN    "{\"content\": \"Draft v0\", \"word_count\": 2}"
#define PASS   "{\"decision\": \"pass\", \"feedback\": \"good\", \"quality_score\": 90}"
#define REVISE "{\"decision\": \"revise\", \"feedback\": \"more\", \"quality_score\": 40}"
#define REV1   "{\"content\": \"Draft v1\", \"word_count\": 2}"

/* ---- the fault-injecting VFS ---------------------------------------------------------------- */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static long countdown = -1; /* writes left before the fault; < 0: no fault */
static int fault_rc = SQLITE_IOERR_WRITE;
static int faulted;              /* the fault has struck */
static long read_countdown = -1; /* the same for reads */
static int fault_errno;          /* the system error a failed write leaves, or 0 */

typedef struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct in the same allocation */
	const char *name;   /* as SQLite opened it (it keeps the string until the close) */
} fault_file;

static int transient; /* the fault strikes once, then the disk works again */
/* Where the first fault struck: "write", "sync" or "truncate", and the file. */
static char struck[4200];

static int strike(sqlite3_file *f, const char *op)
{
	if (countdown < 0)
		return 0;
	if (countdown == 0) {
		const char *name = ((fault_file *)f)->name;

		if (!faulted)
			snprintf(struck, sizeof(struck), "%s of %s", op, name ? name : "(temp)");
		faulted = 1;
		if (transient)
			countdown = -1;
		return 1;
	}
	countdown--;
	return 0;
}

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((fault_file *)f)->real;
}

static int f_close(sqlite3_file *f)
{
	return real_of(f)->pMethods->xClose(real_of(f));
}

static int f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	if (read_countdown == 0) {
		if (!faulted)
			snprintf(struck, sizeof(struck), "read of %s",
				 ((fault_file *)f)->name ? ((fault_file *)f)->name : "(temp)");
		faulted = 1;
		return SQLITE_IOERR_READ;
	}
	if (read_countdown > 0)
		read_countdown--;
	return real_of(f)->pMethods->xRead(real_of(f), p, n, off);
}

static int f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (strike(f, "write")) {
		if (fault_errno)
			errno = fault_errno; /* as the system call would have left it */
		return fault_rc;
	}
	return real_of(f)->pMethods->xWrite(real_of(f), p, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return strike(f, "truncate") ? SQLITE_IOERR_TRUNCATE
				     : real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	return strike(f, "sync") ? SQLITE_IOERR_FSYNC
				 : real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int f_lock(sqlite3_file *f, int l)
{
	return real_of(f)->pMethods->xLock(real_of(f), l);
}

static int f_unlock(sqlite3_file *f, int l)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), l);
}

static int f_check(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int f_caps(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}

/* Version 2 of the methods: no memory-mapped I/O, so every write goes through f_write. */
static const sqlite3_io_methods fault_methods = {
	2,          f_close,       f_read,      f_write,   f_truncate, f_sync, f_size,
	f_lock,     f_unlock,      f_check,     f_control, f_sector,   f_caps, f_shm_map,
	f_shm_lock, f_shm_barrier, f_shm_unmap, NULL,      NULL,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	fault_file *ff = (fault_file *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	ff->name = name;
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	f->pMethods = ff->real->pMethods ? &fault_methods : NULL;
	return rc;
}

static void install_vfs(void)
{
	if (real_vfs)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	cr_assert_not_null(real_vfs);
	fault_vfs = *real_vfs;
	fault_vfs.iVersion = real_vfs->iVersion;
	fault_vfs.szOsFile = (int)sizeof(fault_file) + real_vfs->szOsFile;
	fault_vfs.zName = "ecl-fault";
	fault_vfs.xOpen = f_open;
	fault_vfs.pNext = NULL;
	cr_assert_eq(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

static void fault_after(long n, int rc)
{
	read_countdown = -1;
	fault_errno = 0;
	transient = 0;
	countdown = n;
	fault_rc = rc;
	faulted = 0;
	struck[0] = '\0';
}

/* ---- the tests --------------------------------------------------------------------------------
 */

static char *dir;
static char db[4096], script[4096];

static void setup(void)
{
	dir = ts_tmpdir();
	snprintf(script, sizeof(script), "%s/script.json", dir);
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	install_vfs();
}

static void teardown(void)
{
	fault_after(-1, 0);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(io_faults, .init = setup, .fini = teardown, .timeout = 300);

static const char *const want_output = "{\"content\":\"Draft v1\",\"word_count\":2}";

static long long run_seq(const char *id)
{
	char q[128];

	snprintf(q, sizeof(q), "SELECT seq FROM runs WHERE id = '%s'", id);
	return ts_sql_count(db, q);
}

/* Let every run's lease lapse, from a connection of its own (whatever the update returns). */
static void expire_leases(void)
{
	sqlite3 *h;

	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_exec(h, "UPDATE runs SET lease_until_ms = 0", NULL, NULL, NULL);
	sqlite3_close(h);
}

/* Fail the n-th write for every n until a run gets through, with the fault rc (and errno). */
static void sweep_errno(int rc_fault, int sys, const char *hint)
{
	long n;
	int done = 0, hinted = 0;

	for (n = 0; n < 5000 && !done; n++) {
		ecl_options o;
		ecl_engine *e = NULL;
		char err[1024] = "", id[ECL_ID_MAX] = "";
		long long before = -1;
		int rc;

		snprintf(db, sizeof(db), "%s/io-%d-%ld.db", dir, sys, n);
		o = ts_options(db, script, NULL);
		o.durability = ECL_DURABLE_FULL;
		fault_after(n, rc_fault);
		fault_errno = sys;
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			rc = ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}",
					   id);
			if (rc == ECL_OK)
				rc = ecl_run_drive(e, id);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
		} else {
			cr_assert_null(e);
		}
		done = !faulted;
		if (done) {
			cr_assert_eq(rc, ECL_OK, "no fault, yet %d: %s", rc, err);
		} else {
			/* every write, sync and truncate of SQLite is on the way to a commit the
			 * run waits for: none fails without stopping the run */
			cr_assert_eq(rc, ECL_ESTORE, "write %ld (a %s failed): status %d (%s)", n,
				     struck, rc, err);
			cr_assert(strstr(err, db), "write %ld: the file is not named: %s", n, err);
			hinted |= strstr(err, hint) != NULL;
		}
		ecl_engine_close(e);
		fault_after(-1, 0);
		/* The fault cleared, the database is readable, intact and the run goes on (a
		 * database the fault left unreadable fails here). */
		if (access(db, F_OK) == 0 &&
		    ts_sql_count(db, "SELECT count(*) FROM sqlite_master") > 0) {
			char *check = ts_sql_text(db, "PRAGMA integrity_check");

			cr_assert(check && strcmp(check, "ok") == 0, "write %ld: %s", n,
				  check ? check : "the database cannot be read");
			free(check);
		}
		if (id[0])
			before = run_seq(id);
		if (id[0]) {
			char q[128], *out;

			e = ts_engine(db, script, NULL);
			rc = ecl_run_drive(e, id);
			if (rc == ECL_ESTATE && strstr(ecl_engine_errmsg(e), "is being driven")) {
				/* the failed attempt kept its lease: let it run out */
				expire_leases();
				rc = ecl_run_drive(e, id);
			}
			cr_assert(rc == ECL_OK ||
					  (rc == ECL_ESTATE &&
					   strstr(ecl_engine_errmsg(e),
						  "is completed; there is nothing to resume")),
				  "write %ld: the run did not recover: %d %s", n, rc,
				  ecl_engine_errmsg(e));
			ecl_engine_close(e);
			cr_assert_geq(run_seq(id), before, "write %ld: a checkpoint was lost", n);
			snprintf(q, sizeof(q), "SELECT output FROM runs WHERE id = '%s'", id);
			out = ts_sql_text(db, q);
			cr_assert(out && !strcmp(out, want_output), "write %ld: output %s", n,
				  out ? out : "(none)");
			free(out);
		}
	}
	cr_assert(done, "no run got through in %ld writes", n);
	cr_assert(hinted, "no error said `%s`", hint);
	cr_log_info("a run needs %ld writes", n);
}

static void sweep(int rc_fault, const char *hint)
{
	sweep_errno(rc_fault, 0, hint);
}

Test(io_faults, every_write_of_a_run_may_fail)
{
	sweep(SQLITE_IOERR_WRITE, "(writing failed: the disk may be full or the file too large)");
}

Test(io_faults, the_disk_may_fill_up_at_every_write)
{
	sweep(SQLITE_FULL, "(the disk is full)");
}

static int count_run(void *ctx, const ecl_run_info *info)
{
	(void)info;
	++*(int *)ctx;
	return 0;
}

static int count_entry(void *ctx, const ecl_history_entry *entry)
{
	(void)entry;
	++*(int *)ctx;
	return 0;
}

/* Reads fail: opening, a snapshot, a listing, a history, a resume. Each call fails naming
 * the file (a read SQLite needed that failed is never worked around) or succeeds with all
 * there is; nothing is changed by a failed read. */
Test(io_faults, every_read_may_fail)
{
	char done_id[ECL_ID_MAX], idle_id[ECL_ID_MAX], *before;
	long n;
	int clean = 0;

	snprintf(db, sizeof(db), "%s/reads.db", dir);
	{
		ecl_engine *e = ts_engine(db, script, NULL);

		cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"t\"}",
					   done_id),
			     ECL_OK);
		cr_assert_eq(ecl_run_drive(e, done_id), ECL_OK);
		cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"), "{\"topic\": \"u\"}",
					   idle_id),
			     ECL_OK);
		ecl_engine_close(e);
	}
	before = ts_sql_dump(db);
	for (n = 0; n < 5000 && !clean; n++) {
		ecl_options o = ts_options(db, script, NULL);
		ecl_engine *e = NULL;
		ecl_run_info *info = NULL;
		char err[1024] = "";
		int rc, runs = 0, entries = 0;

		fault_after(-1, 0);
		read_countdown = n;
		faulted = 0;
		struck[0] = '\0';
		rc = ecl_engine_open(&o, &e, err, sizeof(err));
		if (rc == ECL_OK) {
			rc = ecl_run_info_get(e, done_id, &info);
			ecl_run_info_free(info);
			if (rc == ECL_OK)
				rc = ecl_run_list(e, NULL, count_run, &runs);
			if (rc == ECL_OK)
				rc = ecl_run_history(e, done_id, 1, count_entry, &entries);
			snprintf(err, sizeof(err), "%s", ecl_engine_errmsg(e));
		}
		clean = !faulted;
		read_countdown = -1;
		if (clean) {
			cr_assert_eq(rc, ECL_OK, "%s", err);
			cr_assert_eq(runs, 2);
			cr_assert_eq(entries, 4);
		} else {
			/* SQLite retries no read: a failed one fails the call that needed it */
			cr_assert_eq(rc, ECL_ESTORE, "read %ld (a %s failed): status %d (%s)", n,
				     struck, rc, err);
			cr_assert(strstr(err, db), "read %ld: the file is not named: %s", n, err);
		}
		ecl_engine_close(e);
		{
			char *after = ts_sql_dump(db);

			cr_assert_str_eq(after, before, "read %ld: the database changed", n);
			free(after);
		}
	}
	free(before);
	cr_assert(clean, "the calls never got through in %ld reads", n);
	cr_assert_gt(n, 1, "no read failed");
	cr_log_info("the calls need %ld reads", n);
	/* Nothing changed: the idle run still completes. */
	{
		ecl_engine *e = ts_engine(db, script, NULL);
		char *check = ts_sql_text(db, "PRAGMA integrity_check");

		cr_assert_str_eq(check, "ok");
		free(check);
		cr_assert_eq(ecl_run_drive(e, idle_id), ECL_OK, "%s", ecl_engine_errmsg(e));
		ecl_engine_close(e);
	}
}

/* What another process does to runs: every change is whole or not at all. */
typedef int (*op_fn)(ecl_engine *e, const char *done_id, const char *idle_id);

static int op_fork(ecl_engine *e, const char *done_id, const char *idle_id)
{
	char id[ECL_ID_MAX];

	(void)idle_id;
	return ecl_run_fork(e, done_id, 2, id);
}

static int op_pause(ecl_engine *e, const char *done_id, const char *idle_id)
{
	(void)done_id;
	return ecl_run_pause(e, idle_id, NULL);
}

static int op_cancel(ecl_engine *e, const char *done_id, const char *idle_id)
{
	(void)done_id;
	return ecl_run_cancel(e, idle_id, NULL);
}

static int op_prune(ecl_engine *e, const char *done_id, const char *idle_id)
{
	static const char *const completed[] = {"completed"};
	ecl_run_filter f = {completed, 1, NULL, 0, 0};
	int count = -1;

	(void)done_id;
	(void)idle_id;
	return ecl_prune(e, &f, 0, &count);
}

/* Copy a database file (its WAL checkpointed into it first), binary. */
static void copy_db(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out;
	char chunk[8192], wal[4200], shm[4200];
	size_t n;

	snprintf(wal, sizeof(wal), "%s-wal", to);
	snprintf(shm, sizeof(shm), "%s-shm", to);
	remove(wal);
	remove(shm);
	cr_assert_not_null(in);
	out = fopen(to, "wb");
	cr_assert_not_null(out);
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		cr_assert_eq(fwrite(chunk, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

/* Every run has exactly the checkpoints its seq says, and no checkpoint lacks its run. */
static void expect_whole(const char *what, long n)
{
	char *check = ts_sql_text(db, "PRAGMA integrity_check");

	cr_assert_str_eq(check, "ok", "%s, write %ld", what, n);
	free(check);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs r WHERE seq != (SELECT count(*) "
				    "FROM steps s WHERE s.run_id = r.id)"),
		     0, "%s, write %ld: a run and its checkpoints disagree", what, n);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM steps s WHERE NOT EXISTS (SELECT 1 "
				    "FROM runs r WHERE r.id = s.run_id)"),
		     0, "%s, write %ld: checkpoints without their run", what, n);
}

/* A change and the note in the history that records it are stored together or not at all:
 * the pristine database has two runs and no note. A prune whose deletion was committed may
 * still fail to reclaim the space, and says so. */
static void expect_noted(const char *what, long n, int done, const char *err)
{
	long long runs = ts_sql_int(db, "SELECT count(*) FROM runs");
	long long notes = ts_sql_int(db, "SELECT count(*) FROM notes");

	if (strcmp(what, "prune") == 0) {
		cr_assert_eq(notes, 0, "prune, write %ld", n);
		if (!done && runs == 1)
			cr_assert(strstr(err, "cannot reclaim the space"), "prune, write %ld: %s",
				  n, err);
		else
			cr_assert_eq(runs, done ? 1 : 2, "prune, write %ld", n);
	} else if (strcmp(what, "fork") == 0) {
		cr_assert_eq(runs, done ? 3 : 2, "fork, write %ld", n);
		cr_assert_eq(notes, done, "fork, write %ld: the run and its note disagree", n);
	} else {
		cr_assert_eq(notes, done, "%s, write %ld: the change and its note disagree", what,
			     n);
		cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status IN ('paused', "
					    "'cancelled')"),
			     done, "%s, write %ld", what, n);
	}
}

Test(io_faults, every_write_of_a_lifecycle_change_may_fail)
{
	static const struct {
		const char *what;
		op_fn op;
	} ops[] = {
		{"fork", op_fork}, {"pause", op_pause}, {"cancel", op_cancel}, {"prune", op_prune}};
	size_t k;

	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		char done_id[ECL_ID_MAX], idle_id[ECL_ID_MAX], pristine[3000];
		long n;
		int clean = 0;

		snprintf(pristine, sizeof(pristine), "%s/pristine-%zu.db", dir, k);
		snprintf(db, sizeof(db), "%s", pristine);
		{
			ecl_engine *e = ts_engine(db, script, NULL);

			cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"),
						   "{\"topic\": \"t\"}", done_id),
				     ECL_OK);
			cr_assert_eq(ecl_run_drive(e, done_id), ECL_OK);
			cr_assert_eq(ecl_run_start(e, ts_workflow("critique-revise"),
						   "{\"topic\": \"u\"}", idle_id),
				     ECL_OK);
			ecl_engine_close(e);
		}
		{
			sqlite3 *h;

			cr_assert_eq(sqlite3_open(pristine, &h), SQLITE_OK);
			sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
			sqlite3_close(h);
		}
		snprintf(db, sizeof(db), "%s/ops-%zu.db", dir, k);
		for (n = 0; n < 5000 && !clean; n++) {
			ecl_engine *e;
			int rc;

			copy_db(pristine, db); /* each attempt on the same database */
			e = ts_engine(db, script, NULL);
			fault_after(n, SQLITE_IOERR_WRITE);
			rc = ops[k].op(e, done_id, idle_id);
			clean = !faulted;
			fault_after(-1, 0);
			if (!clean && rc != ECL_OK) {
				cr_assert_eq(rc, ECL_ESTORE, "%s, write %ld: status %d (%s)",
					     ops[k].what, n, rc, ecl_engine_errmsg(e));
				cr_assert(strstr(ecl_engine_errmsg(e), db), "%s, write %ld: %s",
					  ops[k].what, n, ecl_engine_errmsg(e));
			}
			if (clean)
				cr_assert_eq(rc, ECL_OK, "%s: %s", ops[k].what,
					     ecl_engine_errmsg(e));
			expect_noted(ops[k].what, n, rc == ECL_OK, ecl_engine_errmsg(e));
			ecl_engine_close(e);
			expect_whole(ops[k].what, n);
		}
		cr_assert(clean, "%s never got through", ops[k].what);
		cr_assert_gt(n, 1, "%s: no write failed", ops[k].what);
	}
}

/* The system's reason, when SQLite has one, is the hint an error gives. */
Test(io_faults, a_failed_write_says_what_the_system_said)
{
	sweep_errno(SQLITE_IOERR_WRITE, ENOSPC, "(the disk is full)");
	sweep_errno(SQLITE_IOERR_WRITE, EFBIG, "(the file size limit was reached)");
	sweep_errno(SQLITE_IOERR_WRITE, EROFS, "(the file system is read-only)");
}

static int count_end(void *ctx, const ecl_batch_end *end)
{
	cr_assert_str_eq(end->status, "completed", "input %zu: %s", end->index,
			 end->error ? end->error : "");
	++*(int *)ctx;
	return 0;
}

/* The first write of a batch is the commit of its group of new runs: when it fails once, the
 * runs are created again one at a time, and every input gets exactly one run. */
Test(io_faults, a_group_of_new_runs_whose_commit_fails_is_created_again_one_by_one)
{
	static const char *const inputs[] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}",
					     "{\"topic\": \"c\"}"};
	ecl_engine *e;
	int ended = 0;

	snprintf(db, sizeof(db), "%s/group.db", dir);
	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" PASS "]}");
	e = ts_engine(db, script, NULL);
	fault_after(0, SQLITE_IOERR_WRITE);
	transient = 1;
	cr_assert_eq(
		ecl_batch_drive(e, ts_workflow("critique-revise"), inputs, 3, 3, count_end, &ended),
		ECL_OK, "%s", ecl_engine_errmsg(e));
	cr_assert(faulted, "no write failed");
	fault_after(-1, 0);
	ecl_engine_close(e);
	cr_assert_eq(ended, 3);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs"), 3, "one run per input");
	cr_assert_eq(ts_sql_int(db, "SELECT count(DISTINCT inputs) FROM runs"), 3);
	cr_assert_eq(ts_sql_int(db, "SELECT count(*) FROM runs WHERE status = 'completed'"), 3);
	expect_whole("group", 0);
}

static int note_end(void *ctx, const ecl_batch_end *end)
{
	(void)end;
	++*(int *)ctx;
	return 0;
}

static int resume_one(void *ctx, const ecl_run_info *info)
{
	ecl_engine *e = ctx;

	if (strcmp(info->status, "completed") != 0)
		cr_assert_eq(ecl_run_drive(e, info->id), ECL_OK, "run %s (%s): %s", info->id,
			     info->status, ecl_engine_errmsg(e));
	return 0;
}

/* Every write of a batch of three runs, driven together with their commits grouped, may fail
 * (and every one after it): the batch stops with an error naming the file, every input has
 * at most one run, every run is whole, and every run completes once the fault is cleared. */
Test(io_faults, every_write_of_a_batch_may_fail)
{
	static const char *const inputs[] = {"{\"topic\": \"a\"}", "{\"topic\": \"b\"}",
					     "{\"topic\": \"c\"}"};
	long n;
	int clean = 0;

	ts_write(script, "{\"generate\": [" GEN "], \"critique\": [" REVISE ", " PASS
			 "], \"revise\": [" REV1 "]}");
	for (n = 0; n < 5000 && !clean; n++) {
		ecl_engine *e;
		int ended = 0, rc;

		snprintf(db, sizeof(db), "%s/batch-%ld.db", dir, n);
		e = ts_engine(db, script, NULL);
		fault_after(n, SQLITE_IOERR_WRITE);
		rc = ecl_batch_drive(e, ts_workflow("critique-revise"), inputs, 3, 3, note_end,
				     &ended);
		clean = !faulted;
		fault_after(-1, 0);
		if (clean)
			cr_assert_eq(rc, ECL_OK, "%s", ecl_engine_errmsg(e));
		else if (rc != ECL_OK)
			cr_assert(rc == ECL_ESTORE && strstr(ecl_engine_errmsg(e), db),
				  "write %ld: status %d (%s)", n, rc, ecl_engine_errmsg(e));
		cr_assert_eq(ended, 3, "write %ld: every input is reported", n);
		ecl_engine_close(e);
		expect_whole("batch", n);
		cr_assert_eq(ts_sql_int(db, "SELECT count(*) - count(DISTINCT inputs) FROM runs"),
			     0, "write %ld: an input has two runs", n);
		expire_leases();
		e = ts_engine(db, script, NULL);
		cr_assert_eq(ecl_run_list(e, NULL, resume_one, e), ECL_OK);
		ecl_engine_close(e);
		cr_assert_eq(
			ts_sql_int(db, "SELECT count(*) FROM runs WHERE status != 'completed'"), 0,
			"write %ld", n);
	}
	cr_assert(clean, "no batch got through in %ld writes", n);
	cr_assert_gt(n, 1);
	cr_log_info("a batch needs %ld writes", n);
}
