/*
 * graph.c - `ecl graph`: print a compiled workflow's state machine as eclc drew it (mermaid,
 * graphviz dot or JSON). The drawings are in each workflow's descriptor, so the command needs
 * neither the .ecl file nor eclc.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_graph(cli *c)
{
	const char *name = NULL, *format = "mermaid";
	const char *const *text;
	const ecl_workflow *wf;
	int i;

	for (i = 0; i < c->nargs; i++) {
		const char *a = c->args[i];

		if (strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0) {
			if (i + 1 >= c->nargs)
				return cli_error(2, "%s needs mermaid, dot or json", a);
			format = c->args[++i];
		} else if (strncmp(a, "--format=", 9) == 0) {
			format = a + 9;
		} else if (!name && a[0] != '-') {
			name = a;
		} else {
			return cli_error(2, "graph: unexpected argument `%s`", a);
		}
	}
	if (!name)
		return cli_error(2, "usage: ecl graph <workflow> [--format mermaid|dot|json]");
	if (strcmp(format, "mermaid") != 0 && strcmp(format, "dot") != 0 &&
	    strcmp(format, "json") != 0)
		return cli_error(2, "--format: `%s` is not mermaid, dot or json", format);
	wf = ecl_workflow_find(c->opts.workflows, c->opts.nworkflows, name);
	if (!wf)
		return cli_error(2, "unknown workflow `%s` (ecl list shows the workflows)", name);
	text = format[0] == 'm'   ? wf->graph_mermaid
	       : format[0] == 'd' ? wf->graph_dot
				  : wf->graph_json;
	if (!text)
		return cli_error(1, "workflow %s was compiled without its graph", name);
	for (; *text; text++)
		fputs(*text, stdout);
	return 0;
}
