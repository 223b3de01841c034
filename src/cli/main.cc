// comptoir: one binary, one subcommand per job (src/cli/README.md).
#include "command.h"

int main(int argc, char** argv) { return comptoir::cli::RunMain(argc, argv); }
