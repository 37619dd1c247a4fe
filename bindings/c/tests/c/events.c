/* Events, counters, callbacks and liveliness seen from C, with a Rust node publishing
 * chassis/speed.
 *
 *   events <node.json5 file> <VehicleSpeed .bfbs file> <its type hash (hex)>
 *
 * Prints `ok <what> ...` lines and exits 0, or prints `FAIL ...` and exits 1.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vbus/vbus.h>

static int check(const char *what, vbus_status s) {
    if (s != VBUS_OK) {
        printf("FAIL %s: status %d: %s\n", what, (int)s, vbus_last_error());
        exit(1);
    }
    return 0;
}

static atomic_ulong delivered;
static atomic_ullong last_seq;

static void on_speed(void *ctx, const vbus_sample_info *s) {
    (void)ctx;
    atomic_fetch_add(&delivered, 1);
    atomic_store(&last_seq, s->seq);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: events <node.json5> <schema.bfbs> <hash>\n");
        return 2;
    }
    static uint8_t schema[65536];
    FILE *f = fopen(argv[2], "rb");
    size_t schema_len = f ? fread(schema, 1, sizeof schema, f) : 0;
    if (f) fclose(f);
    uint64_t hash = strtoull(argv[3], NULL, 16);
    vbus_type speed = {.name = "demo.vehicle.VehicleSpeed", .hash = hash, .schema = schema, .schema_len = schema_len};
    vbus_type stale = speed;
    stale.hash = hash ^ 1; /* what an ECU built from another schema expects */

    vbus_node node;
    check("open", vbus_node_open_file(argv[1], &node));

    /* Liveliness: the Rust node is reported up. */
    vbus_node_watcher watcher;
    check("watch", vbus_node_watch(node, &watcher));
    vbus_node_event nev;
    int seen_rust = 0;
    while (!seen_rust && vbus_node_watcher_next(watcher, 5000, &nev) == VBUS_OK) {
        seen_rust = nev.kind == VBUS_NODE_UP && strcmp(nev.name, "rust") == 0;
    }
    if (!seen_rust) {
        printf("FAIL liveliness: node `rust` not reported up: %s\n", vbus_last_error());
        return 1;
    }
    printf("ok liveliness: rust up\n");

    /* A callback subscriber gets samples on a vbus thread. */
    vbus_subscriber cb;
    check("callback subscriber",
          vbus_subscriber_create_callback(node, "chassis/speed", &speed, NULL, on_speed, NULL, &cb));

    /* A subscriber with another type hash: a mismatch event, counted, nothing delivered. */
    vbus_subscriber wrong;
    check("mismatched subscriber", vbus_subscriber_create(node, "chassis/speed", &stale, NULL, &wrong));
    vbus_event ev;
    check("mismatch event", vbus_subscriber_next_event(wrong, 10000, &ev));
    if (ev.kind != VBUS_EVENT_TYPE_MISMATCH || ev.expected_hash != stale.hash || ev.found_hash != hash) {
        printf("FAIL mismatch: kind %d expected %llx found %llx: %s\n", ev.kind, (unsigned long long)ev.expected_hash,
               (unsigned long long)ev.found_hash, ev.message);
        return 1;
    }
    printf("ok mismatch: %s\n", ev.message);
    vbus_stats st;
    check("stats", vbus_subscriber_stats(wrong, &st));
    vbus_sample sample;
    if (st.mismatched < 1 || st.delivered != 0 || vbus_subscriber_take(wrong, 0, &sample) != VBUS_ERR_TIMEOUT) {
        printf("FAIL mismatch counters: mismatched %llu delivered %llu\n", (unsigned long long)st.mismatched,
               (unsigned long long)st.delivered);
        return 1;
    }
    printf("ok mismatch counted: %llu\n", (unsigned long long)st.mismatched);

    /* A deadline on a silent topic: reported, and counted. */
    vbus_qos qos = {0};
    qos.deadline_ms = 50;
    vbus_subscriber quiet;
    check("deadline subscriber", vbus_subscriber_create(node, "test/quiet", &speed, &qos, &quiet));
    check("deadline event", vbus_subscriber_next_event(quiet, 5000, &ev));
    check("deadline stats", vbus_subscriber_stats(quiet, &st));
    if (ev.kind != VBUS_EVENT_DEADLINE_MISSED || ev.silent_for_ns < 50000000ull || st.deadline_missed < 1) {
        printf("FAIL deadline: kind %d silent %llu ns, counted %llu\n", ev.kind, (unsigned long long)ev.silent_for_ns,
               (unsigned long long)st.deadline_missed);
        return 1;
    }
    printf("ok deadline: %s\n", ev.message);

    unsigned long got = atomic_load(&delivered);
    check("callback stats", vbus_subscriber_stats(cb, &st));
    if (got < 3 || st.delivered < got) {
        printf("FAIL callback: %lu samples, %llu delivered\n", got, (unsigned long long)st.delivered);
        return 1;
    }
    printf("ok callback: %lu samples, last seq %llu\n", got, (unsigned long long)atomic_load(&last_seq));
    vbus_subscriber_close(cb);
    vbus_subscriber_close(wrong);
    vbus_subscriber_close(quiet);
    vbus_node_watcher_close(watcher);
    vbus_node_close(node);
    return 0;
}
