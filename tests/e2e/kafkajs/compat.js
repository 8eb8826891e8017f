// kafkajs against the broker: admin (create with configs, metadata, describe configs,
// offsets, delete) and the producer (plain and gzip, acks=-1, keys and headers). The
// records are checked by the calling test with kcat. Usage: node compat.js HOST:PORT TOPIC
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');
const [broker, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'kafkajs-compat', brokers: [broker], logLevel: logLevel.ERROR,
                          retry: { retries: 2 } });
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };

(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3,
        configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    if (md.topics[0].partitions.length !== 3) fail('metadata: ' + JSON.stringify(md));
    const cfg = await admin.describeConfigs({ resources: [{ type: 2, name: topic }], includeSynonyms: false });
    const ret = cfg.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
    if (!ret || ret.configValue !== '3600000') fail('describeConfigs: ' + JSON.stringify(cfg));

    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false });
    await producer.connect();
    const msgs = [];
    for (let i = 0; i < 1000; i++) msgs.push({ key: 'k' + (i % 10), value: 'kafkajs-' + i, headers: { n: String(i) } });
    await producer.send({ topic, messages: msgs.slice(0, 500), acks: -1 });
    await producer.send({ topic, messages: msgs.slice(500), acks: -1, compression: CompressionTypes.GZIP });
    const offs = await admin.fetchTopicOffsets(topic);
    const total = offs.reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
    if (total !== 1000) fail('offsets: ' + JSON.stringify(offs));

    let refused = false;
    try { await admin.createTopics({ topics: [{ topic: 'bad/name', numPartitions: 1 }] }); }
    catch (e) { refused = true; }
    if (!refused) fail('an invalid topic name was accepted');
    await producer.disconnect();
    await admin.disconnect();
    console.log('kafkajs: ok');
})().catch((e) => fail(e.message + ' ' + (e.type || '')));
