/*
 * pg_util.h - what the benchmarks on PostgreSQL share: a server given as a URL without a
 * database, a fresh database per repetition, SQL on it, and the bytes ecl's tables take.
 * Every function exits the program on an error (bench_die).
 */
#ifndef ECL_BENCH_PG_UTIL_H
#define ECL_BENCH_PG_UTIL_H

#include <stddef.h>

/* The server the other functions use: postgres://USER@HOST:PORT, borrowed for the program. */
void bench_pg_server(const char *url);

/* Run sql on database db of the server; the first value of its first row (caller frees), or
 * NULL for a command without rows. */
char *bench_pg_sql(const char *db, const char *sql);

/* A fresh database named after tag and this process: its name in name, its URL in url. */
void bench_pg_fresh_db(const char *tag, char *name, size_t nlen, char *url, size_t ulen);

/* Drop database name, closing the connections still on it. */
void bench_pg_drop_db(const char *name);

/* The bytes ecl's tables and their indexes take in database name, per workflow of n. */
double bench_pg_bytes_per_workflow(const char *name, long n);

#endif /* ECL_BENCH_PG_UTIL_H */
