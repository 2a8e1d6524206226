/*
 * main.c - hello-ecl: ecl's whole command line (run, status, resume, runs, batch, serve, ...)
 * for the workflows of this project, which eclc compiled into the registry ecl_workflows.
 */
#include "ecl.h"

int main(int argc, char **argv)
{
	return ecl_main(argc, argv, ecl_workflows, ecl_nworkflows);
}
