/* Independent DDS peer for the vbus-dds interop tests and benchmark: plain C against Debian's
 * CycloneDDS (0.10.2, libddsc.so.0debian) with the types `idlc` generated from the IDL that
 * vbus-codegen emitted for ../schemas/dds (built by `vbus_test_support::dds::build_c_peer`).
 *
 *   peer pub N   wait for a reader on "dds/status", write N Status samples, wait for acks
 *   peer sub N   read "dds/status" until N samples arrived (or 30 s), print each as a line
 *   peer expect N  print the N lines `pub` writes, without DDS
 * An optional third argument is the DDS domain id (default 0); `sub` takes a fourth, the
 * longest it reads in seconds (default 30).
 *
 * Benchmark modes on "dds/ping" / "dds/pong" (types Ping / Pong):
 *   peer echo SECS 0 DOMAIN       answer every Ping with a Pong carrying the same fields
 *   peer ping N SIZE DOMAIN       N round trips (ping, wait for its pong), print latency stats
 *   peer blast N SIZE DOMAIN      write N Pings as fast as possible (reliable, keep-all)
 *   peer count N SECS DOMAIN      take Pings until N arrived, print count and rate
 *
 * Configuration through CYCLONEDDS_URI (the tests pin it to lo, multicast off). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dds/dds.h"
#include "dds_demo.h"

static void fill(demo_dds_Status *s, uint32_t i, int16_t *temp, demo_dds_Vec3 *acc, float *rpm, char **tags,
                 char *label, char *tag1)
{
  memset(s, 0, sizeof(*s));
  s->id = i;
  s->speed_kph = 1.5f * (float)i;
  s->gear = (i % 2) ? demo_dds_Reverse : demo_dds_Drive;
  snprintf(label, 64, "c-peer %" PRIu32, i);
  s->label = label;
  s->odometer_m = UINT64_C(1000000000000) + i;
  *temp = (int16_t)(-(int)i);
  s->temp_c = (i % 2 == 0) ? temp : NULL;
  acc->x = 1.0f; acc->y = 2.0f; acc->z = (float)i;
  s->accel = (i % 2 == 1) ? acc : NULL;
  rpm[0] = (float)i; rpm[1] = (float)i + 0.5f;
  s->rpm._length = s->rpm._maximum = 2; s->rpm._buffer = rpm;
  snprintf(tag1, 32, "t%" PRIu32, i);
  tags[0] = "a"; tags[1] = tag1;
  s->tags._length = s->tags._maximum = 2; s->tags._buffer = tags;
  s->ok = (i % 2) == 1;
  s->ratio = (double)i / 3.0;
}

static void print(const demo_dds_Status *s)
{
  printf("id=%" PRIu32 " speed=%g gear=%d label=%s odo=%" PRIu64 " temp=", s->id, (double)s->speed_kph, (int)s->gear,
         s->label, s->odometer_m);
  if (s->temp_c) printf("%d", (int)*s->temp_c); else printf("none");
  printf(" accel=");
  if (s->accel) printf("%g,%g,%g", (double)s->accel->x, (double)s->accel->y, (double)s->accel->z); else printf("none");
  printf(" rpm=");
  for (uint32_t k = 0; k < s->rpm._length; k++) printf("%s%g", k ? "," : "", (double)s->rpm._buffer[k]);
  printf(" tags=");
  for (uint32_t k = 0; k < s->tags._length; k++) printf("%s%s", k ? "," : "", s->tags._buffer[k]);
  printf(" ok=%d ratio=%.17g\n", (int)s->ok, s->ratio);
  fflush(stdout);
}

static int64_t now_ns(void) { return dds_time(); }

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static dds_qos_t *bench_qos(void)
{
  dds_qos_t *q = dds_create_qos();
  dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_SECS(10));
  dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
  return q;
}

static int wait_match(dds_entity_t wr)
{
  dds_publication_matched_status_t m = {0};
  for (int k = 0; k < 3000 && m.current_count == 0; k++) {
    dds_get_publication_matched_status(wr, &m);
    if (m.current_count == 0) dds_sleepfor(DDS_MSECS(10));
  }
  return m.current_count > 0;
}

static int bench(int argc, char **argv)
{
  const char *mode = argv[1];
  if (argc < 4) { fprintf(stderr, "bad args\n"); return 2; }
  const int64_t a = atoll(argv[2]), b = atoll(argv[3]);
  const dds_domainid_t domain = argc > 4 ? (dds_domainid_t)atoi(argv[4]) : 0;
  dds_entity_t pp = dds_create_participant(domain, NULL, NULL);
  if (pp < 0) { fprintf(stderr, "participant: %s\n", dds_strretcode(pp)); return 1; }
  dds_qos_t *q = bench_qos();
  dds_entity_t tping = dds_create_topic(pp, &demo_dds_Ping_desc, "dds/ping", q, NULL);
  dds_entity_t tpong = dds_create_topic(pp, &demo_dds_Pong_desc, "dds/pong", q, NULL);
  if (tping < 0 || tpong < 0) { fprintf(stderr, "topic\n"); return 1; }
  static uint8_t payload[1 << 20];
  if (strcmp(mode, "echo") == 0) {
    dds_entity_t rd = dds_create_reader(pp, tping, q, NULL);
    dds_entity_t wr = dds_create_writer(pp, tpong, q, NULL);
    dds_entity_t ws = dds_create_waitset(pp);
    dds_entity_t rc = dds_create_readcondition(rd, DDS_ANY_STATE);
    dds_waitset_attach(ws, rc, 0);
    printf("ready\n"); fflush(stdout);
    const int64_t end = now_ns() + a * 1000000000;
    void *buf[64] = {0};
    dds_sample_info_t si[64];
    while (now_ns() < end) {
      dds_waitset_wait(ws, NULL, 0, DDS_MSECS(100));
      int c = dds_take(rd, buf, si, 64, 64);
      for (int j = 0; j < c; j++) {
        if (!si[j].valid_data) continue;
        const demo_dds_Ping *p = buf[j];
        demo_dds_Pong o = { .seq = p->seq, .sent_ns = p->sent_ns, .data = p->data };
        o.data._release = false;
        dds_write(wr, &o);
      }
      if (c > 0) dds_return_loan(rd, buf, c);
    }
  } else if (strcmp(mode, "ping") == 0) {
    const int64_t n = a;
    dds_entity_t wr = dds_create_writer(pp, tping, q, NULL);
    dds_entity_t rd = dds_create_reader(pp, tpong, q, NULL);
    dds_entity_t ws = dds_create_waitset(pp);
    dds_entity_t rc = dds_create_readcondition(rd, DDS_ANY_STATE);
    dds_waitset_attach(ws, rc, 0);
    if (!wait_match(wr)) { fprintf(stderr, "no echo\n"); return 1; }
    dds_subscription_matched_status_t m = {0};
    for (int k = 0; k < 3000 && m.current_count == 0; k++) { dds_get_subscription_matched_status(rd, &m); dds_sleepfor(DDS_MSECS(10)); }
    dds_sleepfor(DDS_MSECS(300));
    int64_t *rtt = calloc((size_t)n, sizeof(int64_t));
    void *buf[8] = {0};
    dds_sample_info_t si[8];
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) {
      demo_dds_Ping p = { .seq = (uint64_t)i, .sent_ns = (uint64_t)now_ns() };
      p.data._length = p.data._maximum = (uint32_t)b; p.data._buffer = payload;
      dds_write(wr, &p);
      int got = 0;
      const int64_t t_end = now_ns() + DDS_SECS(2);
      while (!got && now_ns() < t_end) {
        dds_waitset_wait(ws, NULL, 0, DDS_MSECS(100));
        int c = dds_take(rd, buf, si, 8, 8);
        for (int j = 0; j < c; j++) {
          const demo_dds_Pong *o = buf[j];
          if (si[j].valid_data && o->seq == (uint64_t)i) { rtt[ok++] = now_ns() - (int64_t)o->sent_ns; got = 1; }
        }
        if (c > 0) dds_return_loan(rd, buf, c);
      }
    }
    qsort(rtt, (size_t)ok, sizeof(int64_t), cmp_i64);
    double sum = 0; for (int64_t i = 0; i < ok; i++) sum += (double)rtt[i];
    if (ok == 0) { printf("rtt n=0\n"); return 1; }
    printf("rtt n=%" PRId64 " mean_us=%.1f p50_us=%.1f p99_us=%.1f\n", ok, sum / (double)ok / 1e3,
           (double)rtt[ok / 2] / 1e3, (double)rtt[(ok * 99) / 100] / 1e3);
  } else if (strcmp(mode, "blast") == 0) {
    dds_entity_t wr = dds_create_writer(pp, tping, q, NULL);
    if (!wait_match(wr)) { fprintf(stderr, "no reader\n"); return 1; }
    dds_sleepfor(DDS_MSECS(300));
    const int64_t t0 = now_ns();
    for (int64_t i = 0; i < a; i++) {
      demo_dds_Ping p = { .seq = (uint64_t)i, .sent_ns = (uint64_t)now_ns() };
      p.data._length = p.data._maximum = (uint32_t)b; p.data._buffer = payload;
      dds_write(wr, &p);
    }
    dds_wait_for_acks(wr, DDS_SECS(30));
    printf("sent n=%" PRId64 " secs=%.3f\n", a, (double)(now_ns() - t0) / 1e9);
  } else if (strcmp(mode, "count") == 0) {
    dds_entity_t rd = dds_create_reader(pp, tping, q, NULL);
    dds_entity_t ws = dds_create_waitset(pp);
    dds_entity_t rc = dds_create_readcondition(rd, DDS_ANY_STATE);
    dds_waitset_attach(ws, rc, 0);
    printf("ready\n"); fflush(stdout);
    const int64_t end = now_ns() + b * 1000000000;
    int64_t got = 0, t0 = 0, t1 = 0;
    void *buf[256] = {0};
    dds_sample_info_t si[256];
    while (got < a && now_ns() < end) {
      dds_waitset_wait(ws, NULL, 0, DDS_MSECS(100));
      int c = dds_take(rd, buf, si, 256, 256);
      for (int j = 0; j < c; j++) if (si[j].valid_data) { if (!got) t0 = now_ns(); got++; t1 = now_ns(); }
      if (c > 0) dds_return_loan(rd, buf, c);
    }
    const double secs = (double)(t1 - t0) / 1e9;
    printf("received n=%" PRId64 " secs=%.3f rate=%.0f/s\n", got, secs, secs > 0 ? (double)(got - 1) / secs : 0.0);
  }
  fflush(stdout);
  dds_delete_qos(q);
  dds_delete(pp);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc >= 2 && (!strcmp(argv[1], "echo") || !strcmp(argv[1], "ping") || !strcmp(argv[1], "blast") || !strcmp(argv[1], "count")))
    return bench(argc, argv);
  if (argc < 3) { fprintf(stderr, "usage: peer pub|sub N\n"); return 2; }
  const int pub = strcmp(argv[1], "pub") == 0;
  const uint32_t n = (uint32_t)atoi(argv[2]);
  if (strcmp(argv[1], "expect") == 0) {
    for (uint32_t i = 0; i < n; i++) {
      demo_dds_Status s; int16_t temp; demo_dds_Vec3 acc; float rpm[2]; char *tags[2]; char label[64], tag1[32];
      fill(&s, i, &temp, &acc, rpm, tags, label, tag1);
      print(&s);
    }
    return 0;
  }
  const dds_domainid_t domain = argc > 3 ? (dds_domainid_t)atoi(argv[3]) : 0;
  dds_entity_t pp = dds_create_participant(domain, NULL, NULL);
  if (pp < 0) { fprintf(stderr, "participant: %s\n", dds_strretcode(pp)); return 1; }
  dds_qos_t *qos = dds_create_qos();
  dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_SECS(1));
  dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, 4);
  dds_qset_durability(qos, DDS_DURABILITY_TRANSIENT_LOCAL);
  dds_entity_t tp = dds_create_topic(pp, &demo_dds_Status_desc, "dds/status", qos, NULL);
  if (tp < 0) { fprintf(stderr, "topic: %s\n", dds_strretcode(tp)); return 1; }
  if (pub) {
    dds_qset_history(qos, DDS_HISTORY_KEEP_ALL, 0);
    dds_entity_t wr = dds_create_writer(pp, tp, qos, NULL);
    if (wr < 0) { fprintf(stderr, "writer: %s\n", dds_strretcode(wr)); return 1; }
    dds_publication_matched_status_t m = {0};
    for (int k = 0; k < 3000 && m.current_count == 0; k++) {
      dds_get_publication_matched_status(wr, &m);
      dds_sleepfor(DDS_MSECS(10));
    }
    if (m.current_count == 0) { fprintf(stderr, "no reader matched\n"); return 1; }
    printf("matched\n"); fflush(stdout);
    for (uint32_t i = 0; i < n; i++) {
      demo_dds_Status s; int16_t temp; demo_dds_Vec3 acc; float rpm[2]; char *tags[2]; char label[64], tag1[32];
      fill(&s, i, &temp, &acc, rpm, tags, label, tag1);
      dds_return_t r = dds_write(wr, &s);
      if (r < 0) { fprintf(stderr, "write: %s\n", dds_strretcode(r)); return 1; }
      print(&s);
    }
    dds_wait_for_acks(wr, DDS_SECS(10));
    dds_sleepfor(DDS_MSECS(500));
  } else {
    dds_qset_history(qos, DDS_HISTORY_KEEP_ALL, 0);
    dds_entity_t rd = dds_create_reader(pp, tp, qos, NULL);
    if (rd < 0) { fprintf(stderr, "reader: %s\n", dds_strretcode(rd)); return 1; }
    printf("ready\n"); fflush(stdout);
    uint32_t got = 0;
    void *buf[16] = {0};
    dds_sample_info_t si[16];
    const int secs = argc > 4 ? atoi(argv[4]) : 30;
    for (int k = 0; k < secs * 100 && got < n; k++) {
      int c = dds_take(rd, buf, si, 16, 16);
      for (int j = 0; j < c; j++) {
        if (si[j].valid_data) { print(buf[j]); got++; }
      }
      if (c > 0) dds_return_loan(rd, buf, c);
      else dds_sleepfor(DDS_MSECS(10));
    }
  }
  dds_delete_qos(qos);
  dds_delete(pp);
  return 0;
}
