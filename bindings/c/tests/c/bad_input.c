/* Every kind of bad input to the C API gets a status and a message, never a crash.
 *
 *   bad_input <node.json5 file> <VehicleSpeed .bfbs file>
 *
 * Prints `ok <case>` per case, `FAIL <case>: ...` otherwise; exits with the number of failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vbus/vbus.h>

static int failures = 0;

static void expect(const char *name, vbus_status got, vbus_status want, const char *needle) {
    const char *msg = vbus_last_error();
    if (got == want && (needle == NULL || strstr(msg, needle) != NULL)) {
        printf("ok %s: %s\n", name, want == VBUS_OK ? "" : msg);
    } else {
        printf("FAIL %s: status %d (expected %d), message `%s` (expected to contain `%s`)\n", name, (int)got,
               (int)want, msg, needle ? needle : "");
        failures++;
    }
}

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bad_input <node.json5> <schema.bfbs>\n");
        return 2;
    }
    size_t schema_len = 0;
    uint8_t *schema = read_file(argv[2], &schema_len);
    if (!schema) {
        fprintf(stderr, "bad_input: cannot read %s\n", argv[2]);
        return 2;
    }
    vbus_node node;
    expect("open with a NULL out-pointer", vbus_node_open_file(argv[1], NULL), VBUS_ERR_NULL, "NULL");
    expect("open with a config that is not JSON5", vbus_node_open("{mode: ", &node), VBUS_ERR_CONFIG, NULL);
    expect("open with an unknown mode", vbus_node_open("{mode: \"satellite\"}", &node), VBUS_ERR_CONFIG, "mode");
    expect("open a missing file", vbus_node_open_file("/nonexistent/vbus.json5", &node), VBUS_ERR_CONFIG,
           "/nonexistent/vbus.json5");
    vbus_status s = vbus_node_open_file(argv[1], &node);
    expect("open", s, VBUS_OK, NULL);
    if (s != VBUS_OK) return 100;

    vbus_type speed = {.name = "demo.vehicle.VehicleSpeed", .hash = 0, .schema = schema, .schema_len = schema_len};
    vbus_type unverifiable = {.name = "demo.vehicle.VehicleSpeed", .hash = 1};
    vbus_type wrong_table = {.name = "demo.vehicle.NoSuchTable", .hash = 1, .schema = schema, .schema_len = schema_len};
    vbus_type bad_schema = {.name = "demo.vehicle.VehicleSpeed", .hash = 1, .schema = (const uint8_t *)"junk", .schema_len = 4};
    vbus_type null_name = {.name = NULL, .hash = 1, .schema = schema, .schema_len = schema_len};
    vbus_publisher pub;
    expect("a key that is not UTF-8", vbus_publisher_create(node, "chassis/\xff\xfe", &speed, NULL, &pub),
           VBUS_ERR_INVALID_ARGUMENT, "UTF-8");
    expect("a NULL key", vbus_publisher_create(node, NULL, &speed, NULL, &pub), VBUS_ERR_NULL, "key");
    expect("a key with an empty chunk", vbus_publisher_create(node, "chassis//speed", &speed, NULL, &pub),
           VBUS_ERR_INVALID_ARGUMENT, "empty");
    expect("a NULL type", vbus_publisher_create(node, "t/a", NULL, NULL, &pub), VBUS_ERR_NULL, "type");
    expect("a type name that is NULL", vbus_publisher_create(node, "t/a", &null_name, NULL, &pub), VBUS_ERR_NULL,
           "type.name");
    expect("a type neither verifiable nor described", vbus_publisher_create(node, "t/a", &unverifiable, NULL, &pub),
           VBUS_ERR_INVALID_ARGUMENT, "verifier or a schema");
    expect("a schema without the type", vbus_publisher_create(node, "t/a", &wrong_table, NULL, &pub),
           VBUS_ERR_INVALID_ARGUMENT, "NoSuchTable");
    expect("a schema that is not a .bfbs", vbus_publisher_create(node, "t/a", &bad_schema, NULL, &pub),
           VBUS_ERR_INVALID_ARGUMENT, "schema");
    vbus_qos qos = {0};
    qos.priority = 9;
    expect("a QoS priority out of range", vbus_publisher_create(node, "t/a", &speed, &qos, &pub),
           VBUS_ERR_INVALID_ARGUMENT, "qos.priority");
    expect("publisher", vbus_publisher_create(node, "t/a", &speed, NULL, &pub), VBUS_OK, NULL);

    const uint8_t junk[5] = {1, 2, 3, 4, 5};
    expect("a payload that is no VehicleSpeed", vbus_publish(pub, junk, sizeof junk), VBUS_ERR_INVALID_ARGUMENT,
           "not a valid");
    expect("a NULL payload with a length", vbus_publish(pub, NULL, 8), VBUS_ERR_NULL, "data");
    /* A real VehicleSpeed (empty table), cut short: a buffer of the wrong size. */
    const uint8_t empty_table[12] = {8, 0, 0, 0, 4, 0, 4, 0, 4, 0, 0, 0};
    expect("a valid payload", vbus_publish(pub, empty_table, sizeof empty_table), VBUS_OK, NULL);
    expect("the same payload truncated", vbus_publish(pub, empty_table, 6), VBUS_ERR_INVALID_ARGUMENT, "not a valid");

    vbus_publisher as_publisher = {.id = node.id};
    expect("a node handle used as a publisher", vbus_publish(as_publisher, empty_table, sizeof empty_table),
           VBUS_ERR_INVALID_HANDLE, "found a node");
    vbus_publisher null_handle = {0};
    expect("the null handle", vbus_publish(null_handle, empty_table, sizeof empty_table), VBUS_ERR_INVALID_HANDLE,
           "null handle");
    expect("close", vbus_publisher_close(pub), VBUS_OK, NULL);
    expect("a publisher used after close", vbus_publish(pub, empty_table, sizeof empty_table),
           VBUS_ERR_INVALID_HANDLE, "closed already");
    expect("a publisher closed twice", vbus_publisher_close(pub), VBUS_ERR_INVALID_HANDLE, "closed already");

    vbus_subscriber sub;
    expect("subscriber", vbus_subscriber_create(node, "t/b", &speed, NULL, &sub), VBUS_OK, NULL);
    vbus_sample sample;
    expect("take with nothing queued", vbus_subscriber_take(sub, 0, &sample), VBUS_ERR_TIMEOUT, "nothing");
    expect("take with a timeout", vbus_subscriber_take(sub, 50, &sample), VBUS_ERR_TIMEOUT, "50 ms");
    expect("take into NULL", vbus_subscriber_take(sub, 0, NULL), VBUS_ERR_NULL, "sample");
    expect("a callback subscriber without a callback",
           vbus_subscriber_create_callback(node, "t/b", &speed, NULL, NULL, NULL, &sub), VBUS_ERR_NULL, "callback");
    vbus_sample_info info;
    vbus_sample forged = {.id = 999999};
    expect("a sample handle never issued", vbus_sample_get(forged, &info), VBUS_ERR_INVALID_HANDLE, "999999");

    vbus_field_client field;
    expect("field client", vbus_field_client_create(node, "t/field", &speed, NULL, &field), VBUS_OK, NULL);
    expect("a field without a value", vbus_field_get(field, &sample), VBUS_ERR_NO_VALUE, "no value");

    vbus_service_client client;
    expect("service client", vbus_service_client_create(node, "t/nobody", &speed, &speed, 300, &client), VBUS_OK, NULL);
    s = vbus_service_call(client, empty_table, sizeof empty_table, 0, &sample);
    if (s == VBUS_ERR_TIMEOUT) s = VBUS_ERR_NO_SERVER; /* zenoh may answer either way */
    expect("a call nobody serves", s, VBUS_ERR_NO_SERVER, "t/nobody");
    expect("a call with an invalid request", vbus_service_call(client, junk, sizeof junk, 0, &sample),
           VBUS_ERR_INVALID_ARGUMENT, "not sent");

    expect("node close", vbus_node_close(node), VBUS_OK, NULL);
    expect("take after the node closed", vbus_subscriber_take(sub, 1000, &sample), VBUS_ERR_CLOSED, "closed");
    expect("a node used after close", vbus_publisher_create(node, "t/c", &speed, NULL, &pub), VBUS_ERR_INVALID_HANDLE,
           "closed already");
    vbus_subscriber_close(sub);
    vbus_field_client_close(field);
    vbus_service_client_close(client);
    free(schema);
    printf("failures %d\n", failures);
    return failures;
}
