/* A C ECU built from an outdated schema: it publishes `demo.vehicle.VehicleSpeed` on
 * chassis/speed under another type hash. Subscribers must report the mismatch and deliver
 * nothing.
 *
 *   mismatch <node.json5 file> <hash (hex)> <count>
 */
#include <stdio.h>
#include <stdlib.h>

#include <vbus/vbus.h>

static bool accept_all(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx, (void)data, (void)len;
    return true;
}

static int fail(const char *what, vbus_status s) {
    fprintf(stderr, "mismatch: %s: status %d: %s\n", what, (int)s, vbus_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: mismatch <node.json5> <hash> <count>\n");
        return 2;
    }
    uint64_t hash = strtoull(argv[2], NULL, 16);
    int count = atoi(argv[3]);
    vbus_node node;
    vbus_status s = vbus_node_open_file(argv[1], &node);
    if (s != VBUS_OK) return fail("open", s);
    vbus_type type = {.name = "demo.vehicle.VehicleSpeed", .hash = hash, .verify = accept_all};
    vbus_publisher pub;
    if ((s = vbus_publisher_create(node, "chassis/speed", &type, NULL, &pub)) != VBUS_OK) return fail("publisher", s);
    if ((s = vbus_publisher_wait_for_subscribers(pub, 10000)) != VBUS_OK) return fail("wait", s);
    /* Any bytes: the old schema's layout does not matter, the hash already differs. */
    const uint8_t payload[16] = {12, 0, 0, 0, 8, 0, 8, 0, 4, 0, 0, 0, 0, 0, 0x48, 0x42};
    for (int i = 0; i < count; i++) {
        if ((s = vbus_publish(pub, payload, sizeof payload)) != VBUS_OK) return fail("publish", s);
    }
    vbus_stats st;
    if ((s = vbus_publisher_stats(pub, &st)) != VBUS_OK) return fail("stats", s);
    printf("sent %llu\n", (unsigned long long)st.sent);
    fflush(stdout);
    vbus_publisher_close(pub);
    vbus_node_close(node);
    return 0;
}
