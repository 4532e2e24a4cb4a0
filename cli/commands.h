/* commands.h — the subcommands, one per cli/cmd_NAME.c; listed in the table in cli/diffuse.c. */
#ifndef DN_COMMANDS_H
#define DN_COMMANDS_H
#include "lesson.h"
int cmd_noise(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);
int train_autoencoder(int argc, char **argv); /* cmd_train_ae.c: `diffuse train --stage autoencoder` */
int cmd_sample(int argc, char **argv);
int cmd_autoencode(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_view(int argc, char **argv);
int cmd_export(int argc, char **argv);
int view_command(int argc, char **argv, const char *usage, int headless); /* cmd_view.c, shared with cmd_export */
int cmd_lesson(int argc, char **argv);
int cmd_model(int argc, char **argv);
/* cmd_view.c: play a lesson in the viewer's window (cmd_lesson.c). */
int lesson_window(const dn_lesson *l, int w, int h, int trace_on, const dn_view_look *look);
#endif
