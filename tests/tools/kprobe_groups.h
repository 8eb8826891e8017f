/*
 * kprobe's group commands (group-protocol, group-keep, group-resume): the group
 * coordinator over the wire with raw members. Included once, by kprobe.c, after its
 * connection helpers (dial, ROUNDTRIP, SEND, RECV, CHECK), which it uses.
 */
#ifndef KPROBE_GROUPS_H
#define KPROBE_GROUPS_H

/* ---- the group coordinator over the wire ---- */

#define GP_JOIN_V   5
#define GP_SYNC_V   3
#define GP_HB_V     3
#define GP_LEAVE_V  3
#define GP_COMMIT_V 7
#define GP_FETCH_V  7
#define GP_DESC_V   5

static void gp_join_req(cm_join_group_req_t *req, cm_join_group_req_protocol_t *proto,
                        const char *group, const char *member)
{
    cm_join_group_req_init(req);
    req->group_id = cm_kstr_c(group);
    req->session_timeout_ms = 6000;
    req->rebalance_timeout_ms = 6000;
    req->member_id = cm_kstr_c(member);
    req->protocol_type = CM_KSTR("consumer");
    cm_join_group_req_protocol_init(proto);
    proto->name = CM_KSTR("range");
    proto->metadata = (cm_kbytes_t){ (const uint8_t *)"meta", 4 };
    req->protocols = proto;
    req->protocols_n = 1;
}

/* A member's JoinGroup (the first: it learns its member id) into *out; the answer. */
static int16_t gp_join(int fd, cm_arena_t *a, const char *group, char *member, size_t cap,
                       cm_join_group_resp_t *out)
{
    cm_join_group_req_t req;
    cm_join_group_req_protocol_t proto;
    gp_join_req(&req, &proto, group, member);
    if (ROUNDTRIP(fd, CM_KAPI_JOIN_GROUP, GP_JOIN_V, join_group, &req, a, out) != 0)
        return -1;
    if (out->member_id.len > 0)
        snprintf(member, cap, "%.*s", (int)out->member_id.len, out->member_id.ptr);
    return out->error_code;
}

static void gp_sync_req(cm_sync_group_req_t *req, const char *group, int32_t gen,
                        const char *member, cm_sync_group_req_assignment_t *as, int n_as)
{
    cm_sync_group_req_init(req);
    req->group_id = cm_kstr_c(group);
    req->generation_id = gen;
    req->member_id = cm_kstr_c(member);
    req->protocol_type = CM_KSTR("consumer");
    req->protocol_name = CM_KSTR("range");
    req->assignments = as;
    req->assignments_n = n_as;
}

static int16_t gp_heartbeat(int fd, cm_arena_t *a, const char *group, int32_t gen,
                            const char *member)
{
    cm_heartbeat_req_t req;
    cm_heartbeat_req_init(&req);
    req.group_id = cm_kstr_c(group);
    req.generation_id = gen;
    req.member_id = cm_kstr_c(member);
    cm_heartbeat_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_HEARTBEAT, GP_HB_V, heartbeat, &req, a, &resp) != 0)
        return -1;
    return resp.error_code;
}

static int16_t gp_commit(int fd, cm_arena_t *a, const char *group, int32_t gen, const char *member,
                         const char *topic, int64_t offset)
{
    cm_offset_commit_req_t req;
    cm_offset_commit_req_init(&req);
    req.group_id = cm_kstr_c(group);
    req.generation_id_or_member_epoch = gen;
    req.member_id = cm_kstr_c(member);
    cm_offset_commit_req_topic_t t;
    cm_offset_commit_req_topic_init(&t);
    t.name = cm_kstr_c(topic);
    cm_offset_commit_req_partition_t p;
    cm_offset_commit_req_partition_init(&p);
    p.partition_index = 0;
    p.committed_offset = offset;
    t.partitions = &p;
    t.partitions_n = 1;
    req.topics = &t;
    req.topics_n = 1;
    cm_offset_commit_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_OFFSET_COMMIT, GP_COMMIT_V, offset_commit, &req, a, &resp) != 0 ||
        resp.topics_n != 1 || resp.topics[0].partitions_n != 1)
        return -1;
    return resp.topics[0].partitions[0].error_code;
}

static int64_t gp_committed(int fd, cm_arena_t *a, const char *group, const char *topic)
{
    cm_offset_fetch_req_t req;
    cm_offset_fetch_req_init(&req);
    req.group_id = cm_kstr_c(group);
    cm_offset_fetch_req_topic_t t;
    cm_offset_fetch_req_topic_init(&t);
    t.name = cm_kstr_c(topic);
    int32_t p0 = 0;
    t.partition_indexes = &p0;
    t.partition_indexes_n = 1;
    req.topics = &t;
    req.topics_n = 1;
    cm_offset_fetch_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_OFFSET_FETCH, GP_FETCH_V, offset_fetch, &req, a, &resp) != 0 ||
        resp.topics_n != 1 || resp.topics[0].partitions_n != 1)
        return -2;
    return resp.topics[0].partitions[0].committed_offset;
}

/* A member's LeaveGroup; its error. */
static int16_t gp_leave(int fd, cm_arena_t *a, const char *group, const char *member)
{
    cm_leave_group_req_t req;
    cm_leave_group_req_init(&req);
    req.group_id = cm_kstr_c(group);
    cm_leave_group_req_member_identity_t who;
    cm_leave_group_req_member_identity_init(&who);
    who.member_id = cm_kstr_c(member);
    req.members = &who;
    req.members_n = 1;
    cm_leave_group_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_LEAVE_GROUP, GP_LEAVE_V, leave_group, &req, a, &resp) != 0)
        return -1;
    return resp.error_code;
}

/* The group's state and member count, as DescribeGroups has them. */
static int gp_describe(int fd, cm_arena_t *a, const char *group, char *state, size_t cap)
{
    cm_describe_groups_req_t req;
    cm_describe_groups_req_init(&req);
    cm_kstr_t g = cm_kstr_c(group);
    req.groups = &g;
    req.groups_n = 1;
    cm_describe_groups_resp_t resp;
    if (ROUNDTRIP(fd, CM_KAPI_DESCRIBE_GROUPS, GP_DESC_V, describe_groups, &req, a, &resp) != 0 ||
        resp.groups_n != 1)
        return -1;
    snprintf(state, cap, "%.*s", (int)resp.groups[0].group_state.len,
             resp.groups[0].group_state.ptr);
    return resp.groups[0].members_n;
}

/*
 * Two raw members of GROUP, on two connections: the join handshake (MEMBER_ID_REQUIRED),
 * leader and sync, heartbeats, a rebalance when the second joins (the first hears of it in
 * its heartbeat, may still commit while the group prepares, and rejoins), commits from a
 * stale generation and an unknown member refused, leaving, and a member that stops
 * heartbeating dropped after its session timeout. Needs group_initial_rebalance_delay_ms=0.
 */
static int group_protocol(const char *group, const char *topic)
{
    if (create_topic(topic, 1) != 0)
        CHECK(false, "cannot create %s", topic);
    int fa = dial(), fb = dial();
    cm_arena_t a;
    cm_arena_init(&a, 64 << 20);
    char ma[256] = "", mb[256] = "", state[64];
    cm_join_group_resp_t ja, jb;

    /* A joins: first without a member id, then with the one it was given. */
    CHECK(gp_join(fa, &a, group, ma, sizeof(ma), &ja) == CM_KERR_MEMBER_ID_REQUIRED && ma[0],
          "first join: %s", cm_kerr_name(ja.error_code));
    CHECK(gp_join(fa, &a, group, ma, sizeof(ma), &ja) == 0 && ja.generation_id == 1 &&
              ja.members_n == 1 && ja.leader.len == (int32_t)strlen(ma),
          "join: %s generation %d members %d", cm_kerr_name(ja.error_code), ja.generation_id,
          ja.members_n);
    cm_sync_group_req_t sreq;
    cm_sync_group_req_assignment_t as[2] = { { cm_kstr_c(ma), { (const uint8_t *)"all", 3 } } };
    gp_sync_req(&sreq, group, 1, ma, as, 1);
    cm_sync_group_resp_t sa, sb;
    CHECK(ROUNDTRIP(fa, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &sreq, &a, &sa) == 0 &&
              sa.error_code == 0 && sa.assignment.len == 3,
          "sync: %s", cm_kerr_name(sa.error_code));
    CHECK(gp_heartbeat(fa, &a, group, 1, ma) == 0, "heartbeat in generation 1");
    CHECK(gp_commit(fa, &a, group, 1, ma, topic, 5) == 0, "commit in generation 1");
    CHECK(gp_commit(fa, &a, group, 0, ma, topic, 6) == CM_KERR_ILLEGAL_GENERATION,
          "commit from generation 0");
    CHECK(gp_commit(fa, &a, group, 1, "nobody", topic, 6) == CM_KERR_UNKNOWN_MEMBER_ID,
          "commit from an unknown member");
    CHECK(gp_heartbeat(fa, &a, group, 1, "nobody") == CM_KERR_UNKNOWN_MEMBER_ID,
          "heartbeat from an unknown member");

    /* B joins: the group prepares a rebalance; A hears of it, may still commit, rejoins. */
    CHECK(gp_join(fb, &a, group, mb, sizeof(mb), &jb) == CM_KERR_MEMBER_ID_REQUIRED,
          "B's first join");
    cm_join_group_req_t jreq;
    cm_join_group_req_protocol_t proto;
    gp_join_req(&jreq, &proto, group, mb);
    CHECK(SEND(fb, CM_KAPI_JOIN_GROUP, GP_JOIN_V, join_group, &jreq) == 0, "B's join");
    CHECK(gp_heartbeat(fa, &a, group, 1, ma) == CM_KERR_REBALANCE_IN_PROGRESS,
          "A's heartbeat during the rebalance");
    CHECK(gp_commit(fa, &a, group, 1, ma, topic, 7) == 0, "A's commit while the group prepares");
    CHECK(gp_join(fa, &a, group, ma, sizeof(ma), &ja) == 0 && ja.generation_id == 2 &&
              ja.members_n == 2,
          "A's rejoin: %s generation %d members %d", cm_kerr_name(ja.error_code), ja.generation_id,
          ja.members_n);
    CHECK(RECV(fb, CM_KAPI_JOIN_GROUP, GP_JOIN_V, join_group, &a, &jb) == 0 && jb.error_code == 0 &&
              jb.generation_id == 2 && jb.members_n == 0,
          "B's join answer: %s generation %d", cm_kerr_name(jb.error_code), jb.generation_id);
    /* B's sync waits for the leader's. */
    gp_sync_req(&sreq, group, 2, mb, NULL, 0);
    CHECK(SEND(fb, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &sreq) == 0, "B's sync");
    CHECK(gp_commit(fa, &a, group, 2, ma, topic, 8) == CM_KERR_REBALANCE_IN_PROGRESS,
          "a commit while the group completes its rebalance");
    as[0] = (cm_sync_group_req_assignment_t){ cm_kstr_c(ma), { (const uint8_t *)"first", 5 } };
    as[1] = (cm_sync_group_req_assignment_t){ cm_kstr_c(mb), { (const uint8_t *)"second", 6 } };
    gp_sync_req(&sreq, group, 2, ma, as, 2);
    CHECK(ROUNDTRIP(fa, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &sreq, &a, &sa) == 0 &&
              sa.error_code == 0 && sa.assignment.len == 5,
          "the leader's sync");
    CHECK(RECV(fb, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &a, &sb) == 0 && sb.error_code == 0 &&
              sb.assignment.len == 6 && memcmp(sb.assignment.ptr, "second", 6) == 0,
          "B's assignment");
    CHECK(gp_commit(fa, &a, group, 1, ma, topic, 9) == CM_KERR_ILLEGAL_GENERATION,
          "a commit from the stale generation 1");
    CHECK(gp_commit(fb, &a, group, 2, mb, topic, 10) == 0, "B's commit in generation 2");

    /* B leaves: A rejoins alone. */
    CHECK(gp_leave(fb, &a, group, mb) == 0, "B leaves");
    CHECK(gp_heartbeat(fa, &a, group, 2, ma) == CM_KERR_REBALANCE_IN_PROGRESS,
          "A's heartbeat after B left");
    CHECK(gp_join(fa, &a, group, ma, sizeof(ma), &ja) == 0 && ja.generation_id == 3 &&
              ja.members_n == 1,
          "A alone: generation %d members %d", ja.generation_id, ja.members_n);
    gp_sync_req(&sreq, group, 3, ma, as, 1);
    CHECK(ROUNDTRIP(fa, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &sreq, &a, &sa) == 0 &&
              sa.error_code == 0,
          "A's sync in generation 3");
    CHECK(gp_describe(fa, &a, group, state, sizeof(state)) == 1 && strcmp(state, "Stable") == 0,
          "stable with one member: %s", state);

    /* A stops heartbeating: after its session timeout (6 s) the group is empty. */
    int members = -1;
    for (int i = 0; i < 60; i++) {
        usleep(250 * 1000);
        members = gp_describe(fb, &a, group, state, sizeof(state));
        if (members == 0 && strcmp(state, "Empty") == 0)
            break;
    }
    CHECK(members == 0 && strcmp(state, "Empty") == 0, "after the session timeout: %s, %d members",
          state, members);
    CHECK(gp_heartbeat(fa, &a, group, 3, ma) == CM_KERR_UNKNOWN_MEMBER_ID,
          "a heartbeat after the session timed out");
    CHECK(gp_committed(fb, &a, group, topic) == 10, "the last commit stays");
    cm_arena_free(&a);
    close(fa);
    close(fb);
    printf("group protocol: %s\n", g_failures ? "FAILED" : "ok");
    return g_failures ? 1 : 0;
}

/*
 * A member that a coordinator restart must not forget. `group-keep` joins GROUP alone,
 * assigns itself "kept", commits offsets 1..N on TOPIC/0 (enough commits to make the
 * broker compact its offsets log when group_offsets_compact_bytes is small) and prints
 * "MEMBER GENERATION". `group-resume MEMBER GENERATION N`, run after the broker restarted,
 * checks that the member is still in the group without joining again: its heartbeat is
 * accepted, SyncGroup gives its assignment back, the group is Stable with one member and
 * the last commit is N; then it leaves.
 */
static int group_keep(const char *group, const char *topic, int n)
{
    if (create_topic(topic, 1) != 0)
        CHECK(false, "cannot create %s", topic);
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 64 << 20);
    char m[256] = "";
    cm_join_group_resp_t j;
    CHECK(gp_join(fd, &a, group, m, sizeof(m), &j) == CM_KERR_MEMBER_ID_REQUIRED, "first join");
    CHECK(gp_join(fd, &a, group, m, sizeof(m), &j) == 0, "join: %s", cm_kerr_name(j.error_code));
    int32_t gen = j.generation_id;
    cm_sync_group_req_t sreq;
    cm_sync_group_req_assignment_t as = { cm_kstr_c(m), { (const uint8_t *)"kept", 4 } };
    gp_sync_req(&sreq, group, gen, m, &as, 1);
    cm_sync_group_resp_t sr;
    CHECK(ROUNDTRIP(fd, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &sreq, &a, &sr) == 0 &&
              sr.error_code == 0,
          "sync");
    for (int i = 1; i <= n && !g_failures; i++) {
        cm_arena_reset(&a);
        int16_t err = gp_commit(fd, &a, group, gen, m, topic, i);
        CHECK(err == 0, "commit %d: %s", i, cm_kerr_name(err));
        if (i % 500 == 0) /* the session must not end while committing */
            CHECK(gp_heartbeat(fd, &a, group, gen, m) == 0, "heartbeat");
    }
    cm_arena_free(&a);
    close(fd);
    if (g_failures)
        return 1;
    printf("%s %d\n", m, gen);
    return 0;
}

static int group_resume(const char *group, const char *topic, const char *m, int32_t gen, int64_t n)
{
    int fd = dial();
    cm_arena_t a;
    cm_arena_init(&a, 64 << 20);
    int16_t err = gp_heartbeat(fd, &a, group, gen, m);
    CHECK(err == 0, "the member's heartbeat after the restart: %s", cm_kerr_name(err));
    cm_sync_group_req_t sreq;
    gp_sync_req(&sreq, group, gen, m, NULL, 0);
    cm_sync_group_resp_t sr;
    CHECK(ROUNDTRIP(fd, CM_KAPI_SYNC_GROUP, GP_SYNC_V, sync_group, &sreq, &a, &sr) == 0 &&
              sr.error_code == 0 && sr.assignment.len == 4 &&
              memcmp(sr.assignment.ptr, "kept", 4) == 0,
          "the member's assignment after the restart: %s", cm_kerr_name(sr.error_code));
    char state[64] = "";
    int members = gp_describe(fd, &a, group, state, sizeof(state));
    CHECK(members == 1 && strcmp(state, "Stable") == 0, "after the restart: %s, %d members", state,
          members);
    int64_t got = gp_committed(fd, &a, group, topic);
    CHECK(got == n, "the last commit after the restart: %lld, want %lld", (long long)got,
          (long long)n);
    CHECK(gp_leave(fd, &a, group, m) == 0, "leave");
    cm_arena_free(&a);
    close(fd);
    return g_failures ? 1 : 0;
}

#endif
