/* The text a member of the public gets (public = { ... }; JOIN <area>):
 * only what is safe to send to anyone, never who reported it, how many
 * were harmed, or why it was graded so. */
#ifndef DAWN_PUBLIC_TEXT_H
#define DAWN_PUBLIC_TEXT_H

#include "alert.h"
#include "model.h"

/* How a public text ends: every public text says how to leave. */
#define DAWN_PUBLIC_TEXT_LEAVE "Reply STOP to leave."

/* PUBLISH: "DAWN drug alert A17: <summary> Sold as heroin, found:
 * nitazene. Looks like: <appearance>. <advice> Reply STOP to leave."
 * ("A17 update" for a later revision); WITHDRAW: "DAWN drug alert A17
 * withdrawn: <reason> Reply STOP to leave.". It fits max_segments parts
 * (>= 1): the appearance goes first, then the advice and then the summary
 * are cut (with "..."); the id and the way to leave are never cut. Uses
 * only summary, sold_as, adulterants, appearance, advice, id and the
 * cancel reason. Returns a malloc'ed string or NULL (out of memory). */
char *dawn_public_text(const struct dawn_alert *a, enum dawn_delivery_action action, int max_segments);

#endif
