/* Runs before anything else in the program (from .preinit_array: before the constructors of the
 * executable, such as tauri-utils' own, which are built for x86-64-v3 too): the engine and the
 * app are built for x86-64-v3 (AVX2, FMA, F16C, BMI2; see .cargo/config.toml), and on a CPU
 * without them they would die with SIGILL at their first such instruction, saying nothing. This
 * file is compiled for the plain x86-64 baseline (build.rs), so the check itself runs on any
 * x86-64 CPU, says in one line what is missing, shows it in a dialog when there is a desktop and
 * no terminal to read it in, and exits. */
#if defined(__x86_64__) && defined(__linux__)
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char MESSAGE[] =
    "Fin-R1 needs a CPU with AVX2 and FMA (Intel Haswell or AMD Zen, 2013 and later); this CPU lacks %s. "
    "Use a newer computer, or a remote Fin-R1 server from another machine's app.";

static void show_dialog(const char *text) {
    pid_t pid = fork();
    if (pid == 0) {
        execlp("zenity", "zenity", "--error", "--no-wrap", "--title=Fin-R1", "--text", text, (char *)0);
        execlp("kdialog", "kdialog", "--title", "Fin-R1", "--error", text, (char *)0);
        execlp("xmessage", "xmessage", "-center", text, (char *)0);
        _exit(127);
    }
    if (pid > 0) {
        int status;
        waitpid(pid, &status, 0);
    }
}

static void fin_r1_cpu_check(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    (void)envp;
    __builtin_cpu_init();
    const char *missing = 0;
    if (!__builtin_cpu_supports("avx2")) missing = "AVX2";
    else if (!__builtin_cpu_supports("fma")) missing = "FMA";
    else if (!__builtin_cpu_supports("bmi2")) missing = "BMI2";
    if (!missing) return;
    char text[400];
    const char *at = strstr(MESSAGE, "%s");
    size_t head = (size_t)(at - MESSAGE);
    size_t n = 0;
    memcpy(text, MESSAGE, head);
    n = head;
    size_t m = strlen(missing);
    memcpy(text + n, missing, m);
    n += m;
    size_t tail = strlen(at + 2);
    memcpy(text + n, at + 2, tail);
    n += tail;
    text[n] = 0;
    (void)!write(2, "fin-r1: ", 8);
    (void)!write(2, text, n);
    (void)!write(2, "\n", 1);
    const char *display = getenv("DISPLAY");
    const char *wayland = getenv("WAYLAND_DISPLAY");
    if (!isatty(2) && ((display && *display) || (wayland && *wayland))) show_dialog(text);
    _exit(78); /* EX_CONFIG */
}

__attribute__((section(".preinit_array"), used)) static void (*const fin_r1_cpu_check_entry)(int, char **, char **) =
    fin_r1_cpu_check;
#endif

/* Referenced from Rust so the linker keeps this object (and its constructor) in every binary. */
int fin_r1_cpu_check_linked(void) { return 1; }
