/*
 * Golden protocol vectors from Apache Kafka's own message classes (kafka-clients on the class path).
 *
 * Compiled and run by regenerate.py next to this file; prints messages.jsonl to stdout in the format
 * of tests/data/vectors/README.md.  For every KRaft API, every version the running Kafka supports
 * (its stable range, as a Kafka node advertises it), request and response, instances 0, 1 and 2:
 *
 *   1. walk the protocol Schema of that message at that version (SCHEMAS[version], tagged fields
 *      included) and build a JSON document of values following the instance's conventions;
 *   2. let Kafka's generated JsonConverter read it into the message object;
 *   3. serialise the object with Kafka's own writer (ObjectSerializationCache + ByteBufferAccessor),
 *      and the header with RequestHeaderData / ResponseHeaderData at the API's header version;
 *   4. write the object back with the JsonConverter: that is the line's "fields".
 *
 * Values are drawn from java.util.Random seeded from the line's identity, so a run is deterministic.
 * The only per-field rules are the instance conventions; nothing here knows any particular API.
 */

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.types.BoundField;
import org.apache.kafka.common.protocol.types.Field;
import org.apache.kafka.common.protocol.types.Schema;
import org.apache.kafka.common.protocol.types.TaggedFields;
import org.apache.kafka.common.protocol.types.Type;

import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class GenerateVectors {
    static final String[][] APIS = {
        {"ApiVersions", "18"}, {"Vote", "52"}, {"BeginQuorumEpoch", "53"}, {"EndQuorumEpoch", "54"},
        {"Fetch", "1"}, {"FetchSnapshot", "59"}, {"DescribeQuorum", "55"}, {"AddRaftVoter", "80"},
        {"RemoveRaftVoter", "81"}, {"UpdateRaftVoter", "82"}, {"DescribeCluster", "60"},
    };
    static final int CORRELATION_ID = 7;
    static final String CLIENT_ID = "oracle";
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** JSON names that do not follow from the schema name (KRaftVersionFeature is kRaftVersionFeature, not
     *  kraftVersionFeature), learnt from the converter's "unable to locate field" message. */
    static final Map<String, String> JSON_NAMES = new HashMap<>();
    static final Pattern MISSING = Pattern.compile("unable to locate field '([^']+)'");

    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String[] api : APIS) {
            ApiKeys key = ApiKeys.forId(Short.parseShort(api[1]));
            for (String kind : new String[] {"request", "response"}) {
                for (short v = key.oldestVersion(); v <= key.latestVersion(); v++) {
                    for (int instance = 0; instance < 3; instance++) {
                        out.append(line(api[0], key, kind, v, instance)).append('\n');
                    }
                }
            }
        }
        System.out.write(out.toString().getBytes(StandardCharsets.UTF_8));
        System.out.flush();
    }

    static String line(String name, ApiKeys key, String kind, short version, int instance) throws Exception {
        String dataClass = "org.apache.kafka.common.message." + name + (kind.equals("request") ? "Request" : "Response") + "Data";
        Class<?> messageClass = Class.forName(dataClass);
        Class<?> converter = Class.forName(dataClass + "JsonConverter");
        Schema schema = ((Schema[]) messageClass.getField("SCHEMAS").get(null))[version];
        Method read = converter.getMethod("read", JsonNode.class, short.class);
        Method write = converter.getMethod("write", messageClass, short.class);

        // A records field whose schema type is nullable may still be declared non-nullable in the
        // message: Kafka's reader then refuses null, and the field gets bytes instead.
        Set<String> nonNullRecords = new HashSet<>();
        ApiMessage message;
        while (true) {
            Values values = new Values(instance, (name + "/" + kind + "/" + version + "/" + instance).hashCode(), nonNullRecords);
            ObjectNode json = values.struct(schema, "");
            try {
                serialise((ApiMessage) read.invoke(null, json, version), version);
                message = (ApiMessage) read.invoke(null, json, version);
                break;
            } catch (Exception e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                Matcher missing = MISSING.matcher(String.valueOf(cause.getMessage()));
                if (missing.find() && JSON_NAMES.put(normalised(missing.group(1)), missing.group(1)) == null) continue;
                if (values.nullRecords.isEmpty() || !nonNullRecords.addAll(values.nullRecords)) {
                    throw new IllegalStateException(name + " " + kind + " v" + version + " instance " + instance + ": " + json, e);
                }
            }
        }
        // Each step on a freshly read object: writing may consume the records buffers of the message.
        JsonNode fields = (JsonNode) write.invoke(null, message, version);
        byte[] body = serialise((ApiMessage) read.invoke(null, fields, version), version);
        byte[] again = serialise((ApiMessage) read.invoke(null, fields, version), version);
        if (!java.util.Arrays.equals(body, again)) throw new IllegalStateException("unstable serialisation");

        short headerVersion;
        byte[] header;
        if (kind.equals("request")) {
            headerVersion = key.requestHeaderVersion(version);
            RequestHeaderData h = new RequestHeaderData().setRequestApiKey(key.id).setRequestApiVersion(version)
                .setCorrelationId(CORRELATION_ID).setClientId(CLIENT_ID);
            header = serialise(h, headerVersion);
        } else {
            headerVersion = key.responseHeaderVersion(version);
            header = serialise(new ResponseHeaderData().setCorrelationId(CORRELATION_ID), headerVersion);
        }
        ByteBuffer frame = ByteBuffer.allocate(4 + header.length + body.length);
        frame.putInt(header.length + body.length).put(header).put(body);

        ObjectNode entry = NODES.objectNode();
        entry.put("api", name);
        entry.put("api_key", key.id);
        entry.put("version", version);
        entry.put("kind", kind);
        entry.put("instance", instance);
        entry.put("header_version", headerVersion);
        entry.put("flexible", key.requestHeaderVersion(version) >= 2);
        entry.put("correlation_id", CORRELATION_ID);
        if (kind.equals("request")) entry.put("client_id", CLIENT_ID);
        entry.set("fields", fields);
        entry.put("body_hex", hex(body));
        entry.put("header_hex", hex(header));
        entry.put("frame_hex", hex(frame.array()));
        return MAPPER.writeValueAsString(entry);
    }

    static byte[] serialise(Message message, short version) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = message.size(cache, version);
        ByteBuffer buffer = ByteBuffer.allocate(size);
        message.write(new ByteBufferAccessor(buffer), cache, version);
        if (buffer.position() != size) throw new IllegalStateException("size " + size + " but wrote " + buffer.position());
        return buffer.array();
    }

    static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) s.append(String.format("%02x", b & 0xff));
        return s.toString();
    }

    /** Kafka's JSON name for a schema field: snake_case to lowerCamelCase. */
    static String jsonName(String schemaName) {
        String known = JSON_NAMES.get(normalised(schemaName));
        if (known != null) return known;
        StringBuilder s = new StringBuilder();
        boolean upper = false;
        for (char c : schemaName.toCharArray()) {
            if (c == '_') { upper = true; continue; }
            s.append(upper ? Character.toUpperCase(c) : c);
            upper = false;
        }
        return s.toString();
    }

    static String normalised(String name) {
        return name.replace("_", "").toLowerCase(java.util.Locale.ROOT);
    }

    /** The values of one instance (see tests/data/vectors/README.md for the three conventions). */
    static final class Values {
        final int instance;
        final Random random;
        final Set<String> nonNullRecords;
        final List<String> nullRecords = new ArrayList<>();
        final short[] errorCodes;

        Values(int instance, long seed, Set<String> nonNullRecords) {
            this.instance = instance;
            this.random = new Random(seed);
            this.nonNullRecords = nonNullRecords;
            List<Short> codes = new ArrayList<>();
            for (Errors e : Errors.values()) if (e.code() > 0) codes.add(e.code());
            errorCodes = new short[codes.size()];
            for (int i = 0; i < errorCodes.length; i++) errorCodes[i] = codes.get(i);
        }

        ObjectNode struct(Schema schema, String path) throws Exception {
            ObjectNode node = NODES.objectNode();
            for (BoundField bound : schema.fields()) {
                Type type = bound.def.type;
                if (type instanceof TaggedFields) {
                    if (instance == 2) continue;   // tagged fields stay at their defaults
                    java.lang.reflect.Field inner = TaggedFields.class.getDeclaredField("fields");
                    inner.setAccessible(true);
                    @SuppressWarnings("unchecked")
                    Map<Integer, Field> tagged = new LinkedHashMap<>((Map<Integer, Field>) inner.get(type));
                    for (Field field : tagged.values()) {
                        if (instance == 1 && field.type.isNullable() && !isRecords(field.type)) continue;   // null: absent
                        put(node, field, path);
                    }
                } else {
                    put(node, bound.def, path);
                }
            }
            return node;
        }

        void put(ObjectNode node, Field field, String path) throws Exception {
            String name = jsonName(field.name);
            node.set(name, value(field.type, name, path + "/" + name));
        }

        static boolean isRecords(Type type) {
            return !(type instanceof Schema) && !type.isArray() && type.toString().matches("(COMPACT_)?(NULLABLE_)?RECORDS");
        }

        JsonNode value(Type type, String name, String path) throws Exception {
            boolean nullable = type.isNullable();
            if (isRecords(type)) {
                if (instance == 1 && nullable && !nonNullRecords.contains(path)) {
                    nullRecords.add(path);
                    return NODES.nullNode();
                }
                return NODES.textNode(Base64.getEncoder().encodeToString(records()));
            }
            if (instance == 1 && nullable) return NODES.nullNode();
            if (type instanceof Schema) return struct((Schema) type, path);
            if (type.isArray()) {
                Type element = type.arrayElementType().get();
                boolean structs = element instanceof Schema;
                int count = instance == 0 ? 2 : instance == 1 ? 3 : (structs ? 1 : 0);
                ArrayNode array = NODES.arrayNode();
                for (int i = 0; i < count; i++) array.add(value(element, name, path + "[" + i + "]"));
                return array;
            }
            if (type == Type.BOOLEAN) return NODES.booleanNode(instance != 1 ? random.nextBoolean() || instance == 0 : false);
            if (type == Type.INT8) return NODES.numberNode((byte) (instance == 0 ? 1 + random.nextInt(20) : instance == 1 ? 100 + random.nextInt(27) : -1 - random.nextInt(100)));
            if (type == Type.INT16) {
                if (name.endsWith("rrorCode") || name.equals("errorCode")) {
                    if (instance == 2) return NODES.numberNode((short) -1);
                    return NODES.numberNode(errorCodes[random.nextInt(errorCodes.length)]);
                }
                return NODES.numberNode((short) (instance == 0 ? 1 + random.nextInt(100) : instance == 1 ? 30000 + random.nextInt(2767) : -1 - random.nextInt(1000)));
            }
            if (type == Type.UINT16) return NODES.numberNode(instance == 0 ? 1 + random.nextInt(1000) : instance == 1 ? 40000 + random.nextInt(25535) : random.nextInt(10));
            if (type == Type.INT32) return NODES.numberNode(instance == 0 ? 1 + random.nextInt(1000) : instance == 1 ? 2_000_000_000 + random.nextInt(147_483_647) : -1 - random.nextInt(1_000_000));
            if (type == Type.UNSIGNED_INT32) return NODES.numberNode(instance == 0 ? 1L + random.nextInt(1000) : instance == 1 ? 4_000_000_000L + random.nextInt(294_967_295) : (long) random.nextInt(10));
            if (type == Type.INT64) return NODES.numberNode(instance == 0 ? 1L + random.nextInt(100_000) : instance == 1 ? 5_000_000_000_000L + (random.nextLong() & 0xFFFFFFFFFFL) : -1L - (random.nextLong() & 0xFFFFFFFFFFL));
            if (type == Type.FLOAT64) return NODES.numberNode(instance == 0 ? 1.5 : instance == 1 ? 1e300 : -2.25);
            if (type == Type.UUID) {
                if (instance == 2) return NODES.textNode(Uuid.ZERO_UUID.toString());
                return NODES.textNode(new Uuid(random.nextLong(), random.nextLong()).toString());
            }
            if (type == Type.STRING || type == Type.COMPACT_STRING || type == Type.NULLABLE_STRING
                    || type == Type.COMPACT_NULLABLE_STRING) {
                if (instance == 2) return NODES.textNode("");
                int n = random.nextInt(1000);
                return NODES.textNode(instance == 0 ? name + "-" + n : name + "-ünïcödé-日本-" + n);
            }
            if (type == Type.BYTES || type == Type.COMPACT_BYTES || type == Type.NULLABLE_BYTES
                    || type == Type.COMPACT_NULLABLE_BYTES) {
                byte[] bytes = new byte[instance == 0 ? 5 : instance == 1 ? 300 : 0];
                random.nextBytes(bytes);
                return NODES.textNode(Base64.getEncoder().encodeToString(bytes));
            }
            throw new IllegalArgumentException("no value rule for type " + type + " at " + path);
        }

        /** One uncompressed batch of 2 records (instance 0), two batches (1), or nothing (2). */
        byte[] records() throws Exception {
            if (instance == 2) return new byte[0];
            byte[] first = batch(10 + random.nextInt(100), 2);
            if (instance == 0) return first;
            byte[] second = batch(1000 + random.nextInt(100), 1);
            return ByteBuffer.allocate(first.length + second.length).put(first).put(second).array();
        }

        byte[] batch(long baseOffset, int count) throws Exception {
            Class<?> memoryRecords = kafkaClass("MemoryRecords");
            Class<?> simpleRecord = kafkaClass("SimpleRecord");
            Class<?> compression = Class.forName("org.apache.kafka.common.compress.Compression");
            Object none = compression.getField("NONE").get(null);
            Object records = Array.newInstance(simpleRecord, count);
            long timestamp = 1_700_000_000_000L + random.nextInt(1_000_000);
            for (int i = 0; i < count; i++) {
                byte[] k = ("k-" + i).getBytes(StandardCharsets.UTF_8);
                byte[] v = ("v-" + random.nextInt(1000)).getBytes(StandardCharsets.UTF_8);
                Array.set(records, i, simpleRecord.getConstructor(long.class, byte[].class, byte[].class)
                    .newInstance(timestamp + i, k, v));
            }
            Object built = memoryRecords.getMethod("withRecords", long.class, compression, records.getClass())
                .invoke(null, baseOffset, none, records);
            ByteBuffer buffer = ((ByteBuffer) memoryRecords.getMethod("buffer").invoke(built)).duplicate();
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        }

        /** The record classes moved to record.internal in Kafka 4.x. */
        static Class<?> kafkaClass(String simpleName) throws ClassNotFoundException {
            try {
                return Class.forName("org.apache.kafka.common.record." + simpleName);
            } catch (ClassNotFoundException e) {
                return Class.forName("org.apache.kafka.common.record.internal." + simpleName);
            }
        }
    }
}
