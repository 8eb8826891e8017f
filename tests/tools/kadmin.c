/*
 * kadmin: Kafka admin operations through librdkafka's admin API, for tests and by hand.
 *
 *   kadmin -b HOST:PORT create TOPIC PARTITIONS [name=value ...] [--rf N] [--validate]
 *   kadmin -b HOST:PORT delete TOPIC
 *   kadmin -b HOST:PORT describe TOPIC            one "name=value source" line per config
 *   kadmin -b HOST:PORT alter TOPIC name=value ...  (AlterConfigs: replaces the set)
 *   kadmin -b HOST:PORT partitions TOPIC COUNT [--validate]   (CreatePartitions)
 *   kadmin -b HOST:PORT offsets TOPIC PARTITION earliest|latest|TIMESTAMP_MS
 *
 * Prints results on stdout; on an error prints the broker's error name and message on
 * stderr and exits 1. The property=value lines of $KCAT_CONFIG (kcat's own config file)
 * are applied too: SASL settings for a broker with internal_auth=scram.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kconf.h"

#define TIMEOUT_MS 10000

static void conf_each(const char *key, const char *value, void *ud)
{
    char err[512];
    if (rd_kafka_conf_set(ud, key, value, err, sizeof(err)) != 0) {
        fprintf(stderr, "kadmin: %s\n", err);
        exit(2);
    }
}

static rd_kafka_t *connect_admin(const char *brokers)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) != 0) {
        fprintf(stderr, "kadmin: %s\n", err);
        exit(2);
    }
    kconf_each("kadmin", conf_each, conf);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "kadmin: %s\n", err);
        exit(2);
    }
    return rk;
}

/* Waits for the admin result event of `type`. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
    for (;;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
        if (ev == NULL) {
            fprintf(stderr, "kadmin: timed out\n");
            exit(1);
        }
        if (rd_kafka_event_type(ev) == type)
            return ev;
        if (rd_kafka_event_error(ev)) {
            fprintf(stderr, "kadmin: %s\n", rd_kafka_event_error_string(ev));
            exit(1);
        }
        rd_kafka_event_destroy(ev);
    }
}

static int check_topic_results(const rd_kafka_topic_result_t **res, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e) {
            fprintf(stderr, "%s: %s: %s\n", rd_kafka_topic_result_name(res[i]),
                    rd_kafka_err2name(e), rd_kafka_topic_result_error_string(res[i]));
            rc = 1;
        } else {
            printf("%s: ok\n", rd_kafka_topic_result_name(res[i]));
        }
    }
    return rc;
}

static int cmd_create(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: create TOPIC PARTITIONS [name=value ...] [--rf N] [--validate]\n");
        return 2;
    }
    int rf = 1, validate = 0;
    char err[512];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--rf") == 0 && i + 1 < argc)
            rf = atoi(argv[++i]);
        else if (strcmp(argv[i], "--validate") == 0)
            validate = 1;
    }
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(argv[0], atoi(argv[1]), rf, err, sizeof(err));
    if (nt == NULL) {
        fprintf(stderr, "kadmin: %s\n", err);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || argv[i][0] == '-')
            continue;
        *eq = '\0';
        rd_kafka_NewTopic_set_config(nt, argv[i], eq + 1);
    }
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (validate)
        rd_kafka_AdminOptions_set_validate_only(opt, 1, err, sizeof(err));
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    int rc = check_topic_results(res, n);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static int cmd_delete(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv)
{
    if (argc < 1)
        return 2;
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(argv[0]);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    int rc = check_topic_results(res, n);
    rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(dt);
    return rc;
}

static int print_config_results(const rd_kafka_ConfigResource_t **res, size_t n, int show)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(res[i]);
        if (e) {
            fprintf(stderr, "%s: %s: %s\n", rd_kafka_ConfigResource_name(res[i]),
                    rd_kafka_err2name(e), rd_kafka_ConfigResource_error_string(res[i]));
            rc = 1;
            continue;
        }
        size_t nc;
        const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(res[i], &nc);
        for (size_t k = 0; show && k < nc; k++) {
            const char *v = rd_kafka_ConfigEntry_value(ce[k]);
            printf("%s=%s %s\n", rd_kafka_ConfigEntry_name(ce[k]), v ? v : "(null)",
                   rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(ce[k])));
        }
        if (!show)
            printf("%s: ok\n", rd_kafka_ConfigResource_name(res[i]));
    }
    return rc;
}

static int cmd_describe(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv)
{
    if (argc < 1)
        return 2;
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, argv[0]);
    rd_kafka_DescribeConfigs(rk, &cr, 1, NULL, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    size_t n;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    int rc = print_config_results(res, n, 1);
    rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(cr);
    return rc;
}

static int cmd_alter(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv)
{
    if (argc < 1)
        return 2;
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, argv[0]);
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            return 2;
        *eq = '\0';
        rd_kafka_ConfigResource_set_config(cr, argv[i], eq + 1);
    }
    rd_kafka_AlterConfigs(rk, &cr, 1, NULL, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
    size_t n;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    int rc = print_config_results(res, n, 0);
    rd_kafka_event_destroy(ev);
    rd_kafka_ConfigResource_destroy(cr);
    return rc;
}

static int cmd_partitions(rd_kafka_t *rk, rd_kafka_queue_t *q, int argc, char **argv)
{
    char err[512];
    if (argc < 2)
        return 2;
    rd_kafka_NewPartitions_t *np =
        rd_kafka_NewPartitions_new(argv[0], (size_t)atoi(argv[1]), err, sizeof(err));
    if (np == NULL) {
        fprintf(stderr, "kadmin: %s\n", err);
        return 2;
    }
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    if (argc > 2 && strcmp(argv[2], "--validate") == 0)
        rd_kafka_AdminOptions_set_validate_only(opt, 1, err, sizeof(err));
    rd_kafka_CreatePartitions(rk, &np, 1, opt, q);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
    int rc = check_topic_results(res, n);
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewPartitions_destroy(np);
    return rc;
}

static int cmd_offsets(rd_kafka_t *rk, int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *topic = argv[0];
    int32_t part = atoi(argv[1]);
    int64_t lo, hi;
    if (strcmp(argv[2], "earliest") == 0 || strcmp(argv[2], "latest") == 0) {
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, TIMEOUT_MS);
        if (e) {
            fprintf(stderr, "offsets: %s\n", rd_kafka_err2name(e));
            return 1;
        }
        printf("%lld\n", (long long)(argv[2][0] == 'e' ? lo : hi));
        return 0;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, part)->offset = strtoll(argv[2], NULL, 10);
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, TIMEOUT_MS);
    if (e || l->elems[0].err) {
        fprintf(stderr, "offsets: %s\n", rd_kafka_err2name(e ? e : l->elems[0].err));
        rd_kafka_topic_partition_list_destroy(l);
        return 1;
    }
    printf("%lld\n", (long long)l->elems[0].offset);
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-b") != 0) {
        fprintf(stderr, "usage: kadmin -b HOST:PORT "
                        "create|delete|describe|alter|partitions|offsets ...\n");
        return 2;
    }
    rd_kafka_t *rk = connect_admin(argv[2]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    const char *cmd = argv[3];
    int n = argc - 4;
    char **args = argv + 4;
    int rc;
    if (strcmp(cmd, "create") == 0)
        rc = cmd_create(rk, q, n, args);
    else if (strcmp(cmd, "delete") == 0)
        rc = cmd_delete(rk, q, n, args);
    else if (strcmp(cmd, "describe") == 0)
        rc = cmd_describe(rk, q, n, args);
    else if (strcmp(cmd, "alter") == 0)
        rc = cmd_alter(rk, q, n, args);
    else if (strcmp(cmd, "partitions") == 0)
        rc = cmd_partitions(rk, q, n, args);
    else if (strcmp(cmd, "offsets") == 0)
        rc = cmd_offsets(rk, n, args);
    else {
        fprintf(stderr, "kadmin: unknown command '%s'\n", cmd);
        rc = 2;
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}
