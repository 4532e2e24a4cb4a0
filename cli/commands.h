/* commands.h — the subcommands, one per cli/cmd_NAME.c; listed in the table in cli/diffuse.c. */
#ifndef DN_COMMANDS_H
#define DN_COMMANDS_H
int cmd_noise(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
#endif
