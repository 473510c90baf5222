/* Runs before the program's own code: the engine and the app are built for x86-64-v3 (AVX, AVX2,
 * FMA, F16C, BMI1, BMI2, LZCNT, MOVBE; see .cargo/config.toml) on Linux, Windows and macOS
 * alike, and on a CPU without them they would die with SIGILL at their first such instruction,
 * saying nothing. This file is compiled for the plain x86-64 baseline (build.rs), so the check
 * itself runs on any x86-64 CPU, says in one line what is missing, shows it in a dialog when
 * there is no terminal to read it in, and exits with 78 (EX_CONFIG).
 *
 * When it runs, per executable format:
 * - ELF (Linux): from .preinit_array, before every constructor of the executable (such as
 *   tauri-utils' own, built for x86-64-v3 too);
 * - PE (Windows, MSVC and MinGW): as a C initializer (.CRT$XIU), before the C++-style ones in
 *   .CRT$XC* that Rust crates use (std's, tao's, ctor's);
 * - Mach-O (macOS: Intel Macs, Rosetta): a constructor, in link order among the executable's
 *   others (Mach-O has no earlier slot); before `main` in any case. */
#if defined(__x86_64__) || defined(_M_X64)

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    int x[4];
    __cpuidex(x, (int)leaf, (int)sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)x[i];
}
static unsigned long long xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) { __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]); }
/* As bytes: the baseline target has no XSAVE, so the assembler may not take the mnemonic. */
static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

/* x86-64-v3 beyond the baseline, in the order the message lists them; bit i of
 * fin_r1_cpu_missing() is FEATURES[i]. The Rust test in src/sys.rs names the same in the same order. */
static const char *const FEATURES[] = {"AVX", "AVX2", "FMA", "F16C", "BMI1", "BMI2", "LZCNT", "MOVBE", "AVX enabled by the operating system"};
enum { N_FEATURES = sizeof FEATURES / sizeof FEATURES[0] };

/* The x86-64-v3 features this CPU (or its operating system) lacks, one bit each. */
unsigned fin_r1_cpu_missing(void) {
    unsigned r[4], leaf1[4] = {0, 0, 0, 0}, leaf7[4] = {0, 0, 0, 0}, ext1[4] = {0, 0, 0, 0};
    cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    if (max_leaf >= 1) cpuid(1, 0, leaf1);
    if (max_leaf >= 7) cpuid(7, 0, leaf7);
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000001u) cpuid(0x80000001u, 0, ext1);
    unsigned c1 = leaf1[2], b7 = leaf7[1];
    int avx = (c1 >> 28) & 1, osxsave = (c1 >> 27) & 1;
    /* XGETBV faults where the OS has not enabled XSAVE: asked only when it has. XCR0 bits 1 and 2:
     * the OS saves the SSE and AVX registers. Said only of a CPU that has AVX. */
    int os_avx = !avx || (osxsave && (xcr0() & 6) == 6);
    int has[N_FEATURES] = {
        avx,                /* AVX: CPUID.1:ECX[28] */
        (b7 >> 5) & 1,      /* AVX2: CPUID.7.0:EBX[5] */
        (c1 >> 12) & 1,     /* FMA: CPUID.1:ECX[12] */
        (c1 >> 29) & 1,     /* F16C: CPUID.1:ECX[29] */
        (b7 >> 3) & 1,      /* BMI1: CPUID.7.0:EBX[3] */
        (b7 >> 8) & 1,      /* BMI2: CPUID.7.0:EBX[8] */
        (ext1[2] >> 5) & 1, /* LZCNT (ABM): CPUID.80000001H:ECX[5] */
        (c1 >> 22) & 1,     /* MOVBE: CPUID.1:ECX[22] */
        os_avx,
    };
    unsigned missing = 0;
    for (int i = 0; i < N_FEATURES; i++)
        if (!has[i]) missing |= 1u << i;
    return missing;
}

static const char HEAD[] = "Fin-R1 needs a CPU with AVX2, FMA and F16C (x86-64-v3: Intel Haswell or AMD Excavator, 2013 and later); this CPU lacks ";
static const char TAIL[] = ". Use a newer computer, or a remote Fin-R1 server from another machine's app.";

static unsigned long append(char *text, unsigned long n, unsigned long cap, const char *s) {
    while (*s && n + 1 < cap) text[n++] = *s++;
    text[n] = 0;
    return n;
}

/* The one line, without its newline; its length. */
static unsigned long message(unsigned missing, char *text, unsigned long cap) {
    unsigned long n = append(text, 0, cap, HEAD);
    int first = 1;
    for (int i = 0; i < N_FEATURES; i++) {
        if (!(missing & (1u << i))) continue;
        if (!first) n = append(text, n, cap, ", ");
        n = append(text, n, cap, FEATURES[i]);
        first = 0;
    }
    return append(text, n, cap, TAIL);
}

#if defined(_WIN32)
#include <windows.h>

static int fin_r1_cpu_check(void) {
    unsigned missing = fin_r1_cpu_missing();
    if (!missing) return 0;
    char text[600];
    unsigned long n = message(missing, text, sizeof text);
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    DWORD mode, written;
    if (err != NULL && err != INVALID_HANDLE_VALUE) {
        WriteFile(err, "fin-r1: ", 8, &written, NULL);
        WriteFile(err, text, (DWORD)n, &written, NULL);
        WriteFile(err, "\r\n", 2, &written, NULL);
    }
    /* No console to read it in (the app, started from Explorer): a message box. user32 is
     * loaded here rather than linked, so the CLI does not load it for nothing. */
    if (err == NULL || err == INVALID_HANDLE_VALUE || !GetConsoleMode(err, &mode)) {
        HMODULE user32 = LoadLibraryA("user32.dll");
        typedef int(WINAPI * MessageBoxAFn)(HWND, LPCSTR, LPCSTR, UINT);
        MessageBoxAFn box = user32 ? (MessageBoxAFn)(void (*)(void))GetProcAddress(user32, "MessageBoxA") : NULL;
        if (box) box(NULL, text, "Fin-R1", MB_OK | MB_ICONERROR);
    }
    ExitProcess(78);
    return 1;
}

#if defined(_MSC_VER)
#pragma section(".CRT$XIU", long, read)
__declspec(allocate(".CRT$XIU")) int (*fin_r1_cpu_check_entry)(void) = fin_r1_cpu_check;
/* Kept by the linker even though nothing refers to it. */
#pragma comment(linker, "/include:fin_r1_cpu_check_entry")
#else
__attribute__((section(".CRT$XIU"), used)) int (*fin_r1_cpu_check_entry)(void) = fin_r1_cpu_check;
#endif

#else /* Linux, macOS, other Unix */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void show_dialog(const char *text) {
    pid_t pid = fork();
    if (pid == 0) {
#if defined(__APPLE__)
        char script[800];
        unsigned long n = append(script, 0, sizeof script, "display alert \"Fin-R1\" message \"");
        n = append(script, n, sizeof script, text);
        append(script, n, sizeof script, "\" as critical");
        execlp("osascript", "osascript", "-e", script, (char *)0);
#else
        execlp("zenity", "zenity", "--error", "--no-wrap", "--title=Fin-R1", "--text", text, (char *)0);
        execlp("kdialog", "kdialog", "--title", "Fin-R1", "--error", text, (char *)0);
        execlp("xmessage", "xmessage", "-center", text, (char *)0);
#endif
        _exit(127);
    }
    if (pid > 0) {
        int status;
        waitpid(pid, &status, 0);
    }
}

static int has_desktop(void) {
#if defined(__APPLE__)
    return 1;
#else
    const char *display = getenv("DISPLAY");
    const char *wayland = getenv("WAYLAND_DISPLAY");
    return (display && *display) || (wayland && *wayland);
#endif
}

static void fin_r1_cpu_check(int argc, char **argv, char **envp) {
    (void)argc;
    (void)argv;
    (void)envp;
    unsigned missing = fin_r1_cpu_missing();
    if (!missing) return;
    char text[600];
    unsigned long n = message(missing, text, sizeof text);
    (void)!write(2, "fin-r1: ", 8);
    (void)!write(2, text, n);
    (void)!write(2, "\n", 1);
    if (!isatty(2) && has_desktop()) show_dialog(text);
    _exit(78); /* EX_CONFIG */
}

#if defined(__APPLE__)
__attribute__((constructor)) static void fin_r1_cpu_check_constructor(void) { fin_r1_cpu_check(0, 0, 0); }
#else
__attribute__((section(".preinit_array"), used)) static void (*const fin_r1_cpu_check_entry)(int, char **, char **) = fin_r1_cpu_check;
#endif
#endif /* _WIN32 */

#endif /* x86-64 */

/* Referenced from Rust so the linker keeps this object (and its constructor) in every binary. */
int fin_r1_cpu_check_linked(void) { return 1; }
