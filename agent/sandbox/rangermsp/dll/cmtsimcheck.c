/*
 * cmtsimcheck.c - a 32-bit (or 64-bit) Windows program that calls the simulator's DLLs as a C
 * caller does: LoadLibrary by full path, GetProcAddress by the undecorated names, __stdcall
 * function pointers with the vendor's signatures (rangermsp-api-facts.md section 1.2).
 *
 *   cmtsimcheck.exe DLL_FOLDER DB_PATH
 *
 * It prints one line per call: "name status output", and "stack name" when a call left the stack
 * pointer elsewhere than it found it (a callee that pops the wrong number of argument bytes; x86
 * only, where stdcall's callee pops). Exit code 0 when every export was found and every stack
 * check held. The test in tests/rangermsp/test_real_dlls.py reads the lines.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdio.h>
#include <string.h>

typedef void(__stdcall *Init)(const char *, const char *, int *);
typedef void(__stdcall *Terminate)(void);
typedef void(__stdcall *InsUpd)(const char *, int, const char *, const char *, int, int, int, int, int, char *,
                                char *, char *, int *);
typedef void(__stdcall *Read)(const char *, int, char *, int, int *);
typedef void(__stdcall *Describe)(int, int, char *);

static int failures;

#if defined(__i386__)
#define STACK_POINTER(sp) __asm__ volatile("movl %%esp, %0" : "=r"(sp))
#else
#define STACK_POINTER(sp) ((sp) = 0)
#endif

/* Run CALL and complain when the stack pointer moved. */
#define CHECKED(name, call)                                                                     \
    do {                                                                                        \
        unsigned long before_, after_;                                                          \
        STACK_POINTER(before_);                                                                 \
        call;                                                                                   \
        STACK_POINTER(after_);                                                                  \
        if (before_ != after_) { printf("stack %s\n", name); failures++; }                      \
    } while (0)

typedef void (*Any)(void); /* the one function type any other may be cast to and from */

static Any need(HMODULE module, const char *name) {
    Any found = (Any)GetProcAddress(module, name);
    if (!found) { printf("missing %s\n", name); failures++; }
    return found;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: cmtsimcheck DLL_FOLDER DB_PATH\n"); return 2; }
    char path[MAX_PATH];
    snprintf(path, sizeof path, "%s\\CmtDbEng.dll", argv[1]);
    HMODULE eng = LoadLibraryA(path);
    snprintf(path, sizeof path, "%s\\CmtDbQry.dll", argv[1]);
    HMODULE qry = LoadLibraryA(path);
    if (!eng || !qry) { printf("load failed %lu\n", (unsigned long)GetLastError()); return 1; }
    Init init_eng = (Init)need(eng, "CmtInitDbEngDll"), init_qry = (Init)need(qry, "CmtInitDbQryDll");
    InsUpd ins_upd = (InsUpd)need(eng, "CmtInsUpdRec");
    Read properties = (Read)need(qry, "CmtGetSystemProperties");
    Describe describe = (Describe)need(qry, "CmtGetDescriptionByStatus");
    Terminate term_qry = (Terminate)need(qry, "CmtTerminateDbQryDll");
    Terminate term_eng = (Terminate)need(eng, "CmtTerminateDbEngDll");
    if (failures) return 1;

    int status = 0;
    CHECKED("CmtInitDbEngDll", init_eng("zenithlink", argv[2], &status));
    printf("CmtInitDbEngDll %d\n", status);
    CHECKED("CmtInitDbQryDll", init_qry("zenithlink", argv[2], &status));
    printf("CmtInitDbQryDll %d\n", status);

    /* The vendor's request text (agent/backends/rangermsp/messages.py builds the same). */
    const char *request = "\t<?commitcrmxmlgetsystempropertiesrequest version = \"1.0\" ?>\r\n"
                          "\t<CommitCRMGetSystemPropertiesRequest>\r\n\t<Password></Password>\r\n"
                          "\t<ExternalApplicationName>zenithlink</ExternalApplicationName>\r\n"
                          "</CommitCRMGetSystemPropertiesRequest>\r\n";
    static char answer[65537];
    CHECKED("CmtGetSystemProperties", properties(request, (int)strlen(request), answer, 16, &status));
    printf("CmtGetSystemProperties/16 %d\n", status);
    CHECKED("CmtGetSystemProperties", properties(request, (int)strlen(request), answer, 65536, &status));
    printf("CmtGetSystemProperties %d %s\n", status, strstr(answer, "<CmtDateFormat>") ? "CmtDateFormat" : "-");

    char rec_id[65] = "", codes[65] = "", message[1025] = "";
    CHECKED("CmtInsUpdRec", ins_upd("zenithlink", 10, "'Acme 32'", "'\n,\nFLDCRDCOMPANY", 0, 0, 64, 64, 1024,
                                    rec_id, codes, message, &status));
    printf("CmtInsUpdRec %d %s\n", status, rec_id);

    char text[11];
    CHECKED("CmtGetDescriptionByStatus", describe(1020, 10, text));
    printf("CmtGetDescriptionByStatus %s\n", text);

    CHECKED("CmtTerminateDbQryDll", term_qry());
    CHECKED("CmtTerminateDbEngDll", term_eng());
    printf("pid %lu\n", (unsigned long)GetCurrentProcessId());
    return failures ? 1 : 0;
}
