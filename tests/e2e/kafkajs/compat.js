// kafkajs against the broker: admin (create with configs, metadata, describe configs,
// offsets, an invalid name refused, delete) and the producer (plain and gzip, acks=-1,
// keys and headers, every partition's answer without error). The records are checked
// by the calling test with kcat. Usage: node compat.js HOST:PORT TOPIC
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
const [broker, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'kafkajs-compat', brokers: [broker], logLevel: logLevel.ERROR,
                          retry: { retries: 2 } });
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };

(async () => {
    const admin = kafka.admin();
    await admin.connect();
    // createTopics answers false, without an error, when the topic was already there.
    const created = await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3,
        configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    if (created !== true) fail('createTopics did not create ' + topic + ': ' + created);
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    if (md.topics[0].partitions.length !== 3) fail('metadata: ' + JSON.stringify(md));
    const cfg = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false });
    const ret = cfg.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
    if (!ret || ret.configValue !== '3600000') fail('describeConfigs: ' + JSON.stringify(cfg));

    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
    await producer.connect();
    const msgs = [];
    for (let i = 0; i < 1000; i++) msgs.push({ key: 'k' + (i % 10), value: 'kafkajs-' + i, headers: { n: String(i) } });
    const sent = [await producer.send({ topic, messages: msgs.slice(0, 500), acks: -1 }),
                  await producer.send({ topic, messages: msgs.slice(500), acks: -1, compression: CompressionTypes.GZIP })];
    for (const parts of sent) {
        if (!Array.isArray(parts) || parts.length === 0 || parts.some((p) => p.errorCode !== 0))
            fail('send: ' + JSON.stringify(parts));
    }
    const offs = await admin.fetchTopicOffsets(topic);
    const total = offs.reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
    if (total !== 1000) fail('offsets: ' + JSON.stringify(offs));

    // The broker refuses the name (INVALID_TOPIC_EXCEPTION); any other failure is not that.
    let refusal = null;
    try { await admin.createTopics({ topics: [{ topic: 'bad/name', numPartitions: 1 }] }); }
    catch (e) { refusal = e; }
    if (refusal === null) fail('an invalid topic name was accepted');
    const types = (refusal.errors || [refusal]).map((e) => e.type);
    if (types.length !== 1 || types[0] !== 'INVALID_TOPIC_EXCEPTION')
        fail('an invalid topic name: ' + refusal.name + ' ' + refusal.message + ' ' + JSON.stringify(types));

    const doomed = topic + '-doomed';
    if (await admin.createTopics({ waitForLeaders: true, topics: [{ topic: doomed, numPartitions: 1 }] }) !== true)
        fail('createTopics did not create ' + doomed);
    await admin.deleteTopics({ topics: [doomed] });
    const left = await admin.listTopics();
    if (left.includes(doomed) || !left.includes(topic)) fail('listTopics after deleting ' + doomed + ': ' + JSON.stringify(left));
    await producer.disconnect();
    await admin.disconnect();
    console.log('kafkajs: ok');
})().catch((e) => fail(e.message + ' ' + (e.type || '')));
