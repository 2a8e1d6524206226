/*
 * ecl.c - the `ecl` program: ecl_main (main.c) over the workflows bundled with ecl
 * (the .ecl files of dsl/, compiled into generated/).
 */
#include "ecl.h"

int main(int argc, char **argv)
{
	return ecl_main(argc, argv, ecl_workflows, ecl_nworkflows);
}
