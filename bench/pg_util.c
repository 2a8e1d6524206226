/*
 * pg_util.c - the PostgreSQL helpers of the benchmarks (pg_util.h).
 */
#include "pg_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "util.h"

static const char *server;

static void quiet(void *ctx, const char *message)
{
	(void)ctx;
	(void)message;
}

void bench_pg_server(const char *url)
{
	server = url;
}

char *bench_pg_sql(const char *db, const char *sql)
{
	char url[600], *v = NULL;
	PGconn *c;
	PGresult *r;

	snprintf(url, sizeof(url), "%s/%s", server, db);
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		bench_die("cannot connect: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		bench_die("postgres: %s", PQerrorMessage(c));
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

void bench_pg_fresh_db(const char *tag, char *name, size_t nlen, char *url, size_t ulen)
{
	char sql[200];

	snprintf(name, nlen, "bench_%s_%ld", tag, (long)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
	free(bench_pg_sql("postgres", sql));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	free(bench_pg_sql("postgres", sql));
	snprintf(url, ulen, "%s/%s", server, name);
}

void bench_pg_drop_db(const char *name)
{
	char sql[200];

	if (getenv("ECL_BENCH_KEEP_DB")) /* kept, to look at its tables */
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	free(bench_pg_sql("postgres", sql));
}

double bench_pg_bytes_per_workflow(const char *name, long n)
{
	char *v = bench_pg_sql(name, "SELECT pg_total_relation_size('ecl.runs') + "
				     "pg_total_relation_size('ecl.steps') + "
				     "pg_total_relation_size('ecl.notes')");
	double b = v ? atof(v) / (double)n : 0;

	free(v);
	return b;
}
