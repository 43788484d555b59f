/*
 * uploadguard public API.
 *
 * Bind the calling thread to an application session so that uploadguard can
 * tell which session owns each file and catch one session writing another's
 * files.  All three calls are thread-safe and async-signal-safe.
 *
 * A program built against this header still runs when libuploadguard.so is
 * not preloaded: the symbols are weak and the calls then do nothing
 * (ug_session_enter returns 0, ug_session_current returns NULL).
 */
#ifndef UPLOADGUARD_H
#define UPLOADGUARD_H

#ifdef __cplusplus
extern "C" {
#endif

#define UG_VERSION_MAJOR 0
#define UG_VERSION_MINOR 1

#ifdef UG_BUILDING_SHIM
#define UG_EXTERN __attribute__((visibility("default")))
#else
#define UG_EXTERN __attribute__((weak))
#endif

/* Binds the calling thread to session `id` (a NUL-terminated string of at
 * most 255 bytes; longer ids are rejected).  Returns 0, or -1 with errno
 * EINVAL.  The id is copied; the log only ever holds a keyed digest of it. */
UG_EXTERN int ug_session_enter(const char *id);

/* Ends the calling thread's binding, whatever its source. */
UG_EXTERN void ug_session_leave(void);

/* The session the calling thread is bound to (the raw id, thread-local
 * storage valid until the next enter/leave on this thread), or NULL. */
UG_EXTERN const char *ug_session_current(void);

#ifndef UG_BUILDING_SHIM
/* Without the shim the weak symbols are NULL: make the calls harmless. */
#define ug_session_enter(id) (ug_session_enter ? (ug_session_enter)(id) : 0)
#define ug_session_leave() (ug_session_leave ? (ug_session_leave)() : (void)0)
#define ug_session_current()                                                   \
	(ug_session_current ? (ug_session_current)() : (const char *)0)
#endif

#ifdef __cplusplus
}
#endif
#endif /* UPLOADGUARD_H */
