/*
 * cmtsim.c - zenithlink's simulator of RangerMSP's CmtDbEng.dll and CmtDbQry.dll as real DLLs.
 *
 * Built twice from this one file (see build.py): with -DCMTSIM_ENG it is CmtDbEng.dll, with
 * -DCMTSIM_QRY it is CmtDbQry.dll, each for i686 and x86_64. Every export has the vendor's
 * signature (void, __stdcall, results through the caller's buffers and a trailing int* status;
 * rangermsp-api-facts.md section 1.2, the vendor's P/Invoke declarations) and is thin: it sends its
 * arguments to the simulator server (agent/sandbox/rangermsp/wire.py, the simulator's logic stays
 * in Python) and copies the answer into the caller's buffers.
 *
 * Where the server is: the file zenithlink-simulator.addr beside this DLL (its own folder, found
 * from the module handle, not from the working directory) holding "127.0.0.1:PORT" and optionally
 * " MILLISECONDS", the I/O timeout (default 60 s; connecting waits at most 5 s). When the file
 * is missing or the server cannot be reached in time, a call answers status 2000 (general error)
 * and writes nothing else: it never crashes and never blocks for ever (connect and I/O timeouts).
 *
 * Protocol (all integers little-endian; the same text is in wire.py):
 *   request  = u32 length of the rest | u16 version (1) | u16 function | u32 process id
 *              | u16 int count | u16 byte-string count | int count x i32
 *              | byte-string count x (u32 length | bytes)
 *   reply    = u32 length of the rest | i32 status | u16 output count
 *              | output count x (u32 length | bytes), length 0xFFFFFFFF = "not written"
 * Functions, their ints, byte strings and outputs:
 *    1 CmtInitDbEngDll        -                                  app, db path, cwd  -
 *    2 CmtTerminateDbEngDll   -                                  -                  -
 *    3 CmtInsUpdRec           kind, cont, flags, rec/codes/msg sizes  app, data, map  rec id, codes, msg
 *    4 CmtDelete              kind, flags, rec/codes/msg sizes   app, data, map     rec id, codes, msg
 *    5 CmtGetDescriptionByStatus (Eng)  status, size            -                  text
 *   11 CmtInitDbQryDll        -                                  app, db path, cwd  -
 *   12 CmtTerminateDbQryDll   -                                  -                  -
 *   13..17 CmtGetQueryRecIds, CmtGetRecordDataByRecId, CmtGetMultiRecordDataByRecId,
 *          CmtGetFieldAttributesByRecId, CmtGetSystemProperties
 *                             request length, answer size        request            answer
 *   18 CmtGetDescriptionByStatus (Qry)  status, size            -                  text
 * "cwd" is this process's working directory at Init (the vendor sets it to the DLL folder).
 * An output is copied as Delphi's StrPLCopy copies (facts section 4.5): at most "size" bytes and
 * then a NUL, so the caller's buffer holds size + 1 bytes, exactly what the real DLL writes.
 *
 * One connection per DLL per process, reused; calls are serialised by one critical section, as
 * the vendor's DLL serialises its calls (facts section 6). Plain C99 and Winsock only.
 */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_GENERAL 2000
#define ADDRESS_FILE "zenithlink-simulator.addr"
#define CONNECT_TIMEOUT_MS 5000
#define IO_TIMEOUT_MS 60000
#define PROTOCOL_VERSION 1
#define MAX_REPLY_BYTES (512u * 1024u * 1024u)
#define NOT_WRITTEN 0xFFFFFFFFu

#define EXPORT __declspec(dllexport)

enum {
    F_INIT_ENG = 1, F_TERMINATE_ENG = 2, F_INS_UPD = 3, F_DELETE = 4, F_DESCRIBE_ENG = 5,
    F_INIT_QRY = 11, F_TERMINATE_QRY = 12, F_QUERY = 13, F_RECORD = 14, F_MULTI_RECORD = 15,
    F_FIELD = 16, F_PROPERTIES = 17, F_DESCRIBE_QRY = 18
};

typedef struct { const char *data; uint32_t length; } Input;
typedef struct { char *buffer; int size; } Output;
typedef struct { unsigned char *data; size_t length, capacity; int failed; } Bytes;

static HMODULE self_module;
static CRITICAL_SECTION lock;
static SOCKET connection = INVALID_SOCKET;
static int winsock_started;

/* -- a growing byte buffer for the request -------------------------------------------------- */
static void put_bytes(Bytes *b, const void *data, size_t length) {
    if (b->failed) return;
    if (b->length + length > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity < b->length + length) capacity *= 2;
        unsigned char *grown = realloc(b->data, capacity);
        if (!grown) { b->failed = 1; return; }
        b->data = grown;
        b->capacity = capacity;
    }
    if (length) memcpy(b->data + b->length, data, length);
    b->length += length;
}

static void put_u16(Bytes *b, uint16_t v) {
    unsigned char raw[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
    put_bytes(b, raw, 2);
}

static void put_u32(Bytes *b, uint32_t v) {
    unsigned char raw[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                             (unsigned char)(v >> 24) };
    put_bytes(b, raw, 4);
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* -- the connection ------------------------------------------------------------------------- */
static void disconnect(void) {
    if (connection != INVALID_SOCKET) {
        closesocket(connection);
        connection = INVALID_SOCKET;
    }
}

/* The server's address from the file beside this DLL: "a.b.c.d:port", optionally followed by a
 * space and the I/O timeout in milliseconds (tests shorten it). 0 when there is none. */
static int read_address(struct sockaddr_in *address, DWORD *timeout) {
    char path[MAX_PATH + 64];
    DWORD n = GetModuleFileNameA(self_module, path, MAX_PATH);
    if (n == 0 || n >= MAX_PATH) return 0;
    char *slash = strrchr(path, '\\');
    if (!slash) return 0;
    strcpy(slash + 1, ADDRESS_FILE);
    HANDLE file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                              NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (file == INVALID_HANDLE_VALUE) return 0;
    char text[64];
    DWORD got = 0;
    BOOL ok = ReadFile(file, text, sizeof text - 1, &got, NULL);
    CloseHandle(file);
    if (!ok) return 0;
    text[got] = 0;
    char *colon = strchr(text, ':');
    if (!colon) return 0;
    *colon = 0;
    char *end = NULL, *after = NULL;
    long port = strtol(colon + 1, &end, 10);
    long milliseconds = strtol(end, &after, 10);
    *timeout = after != end && milliseconds > 0 ? (DWORD)milliseconds : IO_TIMEOUT_MS;
    unsigned long host = inet_addr(text);
    if (port <= 0 || port > 65535 || host == INADDR_NONE) return 0;
    memset(address, 0, sizeof *address);
    address->sin_family = AF_INET;
    address->sin_port = htons((u_short)port);
    address->sin_addr.s_addr = host;
    return 1;
}

/* Connect with a timeout (non-blocking connect, then select), then set the I/O timeouts. */
static int connect_server(void) {
    if (connection != INVALID_SOCKET) return 1;
    if (!winsock_started) {
        WSADATA data;
        if (WSAStartup(MAKEWORD(2, 2), &data) != 0) return 0;
        winsock_started = 1;
    }
    struct sockaddr_in address;
    DWORD timeout = IO_TIMEOUT_MS;
    if (!read_address(&address, &timeout)) return 0;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return 0;
    u_long nonblocking = 1;
    ioctlsocket(s, FIONBIO, &nonblocking);
    if (connect(s, (struct sockaddr *)&address, sizeof address) != 0) {
        if (WSAGetLastError() != WSAEWOULDBLOCK) { closesocket(s); return 0; }
        fd_set writable, failed;
        FD_ZERO(&writable); FD_SET(s, &writable);
        FD_ZERO(&failed); FD_SET(s, &failed);
        struct timeval wait = { CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000 };
        int error = 0, length = sizeof error;
        if (select(0, NULL, &writable, &failed, &wait) != 1 || !FD_ISSET(s, &writable)
            || getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&error, &length) != 0 || error != 0) {
            closesocket(s);
            return 0;
        }
    }
    nonblocking = 0;
    ioctlsocket(s, FIONBIO, &nonblocking);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&timeout, sizeof timeout);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, (const char *)&timeout, sizeof timeout);
    BOOL on = TRUE;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on, sizeof on);
    connection = s;
    return 1;
}

static int send_all(const unsigned char *data, size_t length) {
    while (length) {
        int chunk = length > 0x10000000u ? 0x10000000 : (int)length;
        int sent = send(connection, (const char *)data, chunk, 0);
        if (sent <= 0) return 0;
        data += sent;
        length -= (size_t)sent;
    }
    return 1;
}

static int receive_all(unsigned char *data, size_t length) {
    while (length) {
        int chunk = length > 0x10000000u ? 0x10000000 : (int)length;
        int got = recv(connection, (char *)data, chunk, 0);
        if (got <= 0) return 0;
        data += got;
        length -= (size_t)got;
    }
    return 1;
}

/* Copy one output as StrPLCopy does: at most size bytes, then a NUL. */
static void copy_output(Output *out, const unsigned char *data, uint32_t length) {
    if (!out->buffer || out->size < 0) return;
    size_t n = length < (uint32_t)out->size ? length : (size_t)out->size;
    memcpy(out->buffer, data, n);
    out->buffer[n] = 0;
}

/* Apply a reply to the outputs and set *status; 0 when the reply is malformed (nothing written:
 * every length is checked before the first copy). */
static int apply_reply(const unsigned char *reply, size_t length, Output *outputs, int output_count, int *status) {
    if (length < 6) return 0;
    int count = reply[4] | (reply[5] << 8);
    size_t at = 6;
    for (int i = 0; i < count; i++) {
        if (at + 4 > length) return 0;
        uint32_t n = get_u32(reply + at);
        at += 4;
        if (n != NOT_WRITTEN) {
            if (n > length - at) return 0;
            at += n;
        }
    }
    at = 6;
    for (int i = 0; i < count; i++) {
        uint32_t n = get_u32(reply + at);
        at += 4;
        if (n == NOT_WRITTEN) continue;
        if (i < output_count) copy_output(&outputs[i], reply + at, n);
        at += n;
    }
    *status = (int)get_u32(reply);
    return 1;
}

/* One exchange with the server, under the lock; the status (STATUS_GENERAL when it failed). */
static int call(int function, const int *ints, int int_count, const Input *inputs, int input_count,
                Output *outputs, int output_count) {
    Bytes request = { 0 };
    put_u32(&request, 0); /* the length, filled in below */
    put_u16(&request, PROTOCOL_VERSION);
    put_u16(&request, (uint16_t)function);
    put_u32(&request, (uint32_t)GetCurrentProcessId());
    put_u16(&request, (uint16_t)int_count);
    put_u16(&request, (uint16_t)input_count);
    for (int i = 0; i < int_count; i++) put_u32(&request, (uint32_t)ints[i]);
    for (int i = 0; i < input_count; i++) {
        put_u32(&request, inputs[i].length);
        put_bytes(&request, inputs[i].data, inputs[i].length);
    }
    if (request.failed) { free(request.data); return STATUS_GENERAL; }
    uint32_t rest = (uint32_t)(request.length - 4);
    memcpy(request.data, (unsigned char[4]){ (unsigned char)rest, (unsigned char)(rest >> 8),
                                            (unsigned char)(rest >> 16), (unsigned char)(rest >> 24) }, 4);

    int status = STATUS_GENERAL;
    EnterCriticalSection(&lock);
    if (connect_server()) {
        unsigned char head[4];
        unsigned char *reply = NULL;
        uint32_t length = 0;
        int ok = send_all(request.data, request.length) && receive_all(head, 4);
        if (ok) {
            length = get_u32(head);
            reply = length <= MAX_REPLY_BYTES ? malloc(length ? length : 1) : NULL;
            ok = reply && receive_all(reply, length);
        }
        ok = ok && apply_reply(reply, length, outputs, output_count, &status);
        if (!ok) {
            status = STATUS_GENERAL;
            disconnect(); /* a broken, timed-out or garbled exchange: the next call connects afresh */
        }
        free(reply);
    }
    LeaveCriticalSection(&lock);
    free(request.data);
    return status;
}

static Input text(const char *s) {
    Input in = { s ? s : "", s ? (uint32_t)strlen(s) : 0 };
    return in;
}

static void set_status(int *status, int value) {
    if (status) *status = value;
}

static void init(int function, const char *app_name, const char *db_path, int *status) {
    char cwd[MAX_PATH + 1];
    DWORD n = GetCurrentDirectoryA(sizeof cwd, cwd);
    if (n == 0 || n >= sizeof cwd) cwd[0] = 0;
    Input inputs[3] = { text(app_name), text(db_path), text(cwd) };
    set_status(status, call(function, NULL, 0, inputs, 3, NULL, 0));
}

static void describe(int function, int code, int size, char *buffer) {
    int ints[2] = { code, size };
    Output out = { buffer, size };
    call(function, ints, 2, NULL, 0, &out, 1);
}

#ifdef CMTSIM_ENG
EXPORT void __stdcall CmtInitDbEngDll(const char *app_name, const char *db_path, int *status) {
    init(F_INIT_ENG, app_name, db_path, status);
}

EXPORT void __stdcall CmtTerminateDbEngDll(void) {
    call(F_TERMINATE_ENG, NULL, 0, NULL, 0, NULL, 0);
}

EXPORT void __stdcall CmtInsUpdRec(const char *app_name, int data_kind, const char *data, const char *map,
                                   int cont_when_invalid, int flags, int rec_id_size, int codes_size,
                                   int message_size, char *rec_id, char *codes, char *message, int *status) {
    int ints[6] = { data_kind, cont_when_invalid, flags, rec_id_size, codes_size, message_size };
    Input inputs[3] = { text(app_name), text(data), text(map) };
    Output outputs[3] = { { rec_id, rec_id_size }, { codes, codes_size }, { message, message_size } };
    set_status(status, call(F_INS_UPD, ints, 6, inputs, 3, outputs, 3));
}

EXPORT void __stdcall CmtDelete(const char *app_name, int data_kind, const char *data, const char *map, int flags,
                                int rec_id_size, int codes_size, int message_size, char *rec_id, char *codes,
                                char *message, int *status) {
    int ints[5] = { data_kind, flags, rec_id_size, codes_size, message_size };
    Input inputs[3] = { text(app_name), text(data), text(map) };
    Output outputs[3] = { { rec_id, rec_id_size }, { codes, codes_size }, { message, message_size } };
    set_status(status, call(F_DELETE, ints, 5, inputs, 3, outputs, 3));
}

EXPORT void __stdcall CmtGetDescriptionByStatus(int code, int size, char *buffer) {
    describe(F_DESCRIBE_ENG, code, size, buffer);
}
#endif

#ifdef CMTSIM_QRY
EXPORT void __stdcall CmtInitDbQryDll(const char *app_name, const char *db_path, int *status) {
    init(F_INIT_QRY, app_name, db_path, status);
}

EXPORT void __stdcall CmtTerminateDbQryDll(void) {
    call(F_TERMINATE_QRY, NULL, 0, NULL, 0, NULL, 0);
}

/* The request travels up to its NUL but never past the length given (the caller's length goes too:
 * the simulator reads that many, as it does in-process), so an unterminated request is not overrun. */
static void read_call(int function, const char *request, int request_length, char *answer, int answer_size,
                      int *status) {
    int ints[2] = { request_length, answer_size };
    Input in = text(NULL);
    if (request && request_length >= 0) {
        uint32_t n = 0;
        while (n < (uint32_t)request_length && request[n]) n++;
        in.data = request;
        in.length = n;
    } else if (request) {
        in = text(request);
    }
    Output out = { answer, answer_size };
    set_status(status, call(function, ints, 2, &in, 1, &out, 1));
}

EXPORT void __stdcall CmtGetQueryRecIds(const char *request, int length, char *answer, int size, int *status) {
    read_call(F_QUERY, request, length, answer, size, status);
}

EXPORT void __stdcall CmtGetRecordDataByRecId(const char *request, int length, char *answer, int size,
                                              int *status) {
    read_call(F_RECORD, request, length, answer, size, status);
}

EXPORT void __stdcall CmtGetMultiRecordDataByRecId(const char *request, int length, char *answer, int size,
                                                   int *status) {
    read_call(F_MULTI_RECORD, request, length, answer, size, status);
}

EXPORT void __stdcall CmtGetFieldAttributesByRecId(const char *request, int length, char *answer, int size,
                                                   int *status) {
    read_call(F_FIELD, request, length, answer, size, status);
}

EXPORT void __stdcall CmtGetSystemProperties(const char *request, int length, char *answer, int size,
                                             int *status) {
    read_call(F_PROPERTIES, request, length, answer, size, status);
}

EXPORT void __stdcall CmtGetDescriptionByStatus(int code, int size, char *buffer) {
    describe(F_DESCRIBE_QRY, code, size, buffer);
}
#endif

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
    if (reason == DLL_PROCESS_ATTACH) {
        self_module = instance; /* this DLL's own folder holds the address file */
        DisableThreadLibraryCalls(instance);
        InitializeCriticalSection(&lock);
    } else if (reason == DLL_PROCESS_DETACH && reserved == NULL) {
        /* FreeLibrary: tidy up. At process exit (reserved != NULL) Winsock may be gone already. */
        disconnect();
        if (winsock_started) WSACleanup();
        DeleteCriticalSection(&lock);
    }
    return TRUE;
}
