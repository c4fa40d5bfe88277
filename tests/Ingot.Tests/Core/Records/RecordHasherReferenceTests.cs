using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Records;

namespace Ingot.Tests.Core.Records;

/// <summary>The pooled hasher against the original allocation-heavy implementation: byte-identical canonical text and hash.</summary>
public sealed class RecordHasherReferenceTests
{
    public static TheoryData<string> Documents() =>
    [
        """{}""",
        """{"b":"x","a":1,"c":[true,null]}""",
        """{"z":{"y":1,"x":[{"b":2,"a":1},[],{}]},"a":null,"m":[[1,[2,{"d":4,"c":3}]]]}""",
        """{"name":"Zürich","sym":"<>&'\"\\","ctl":"a\u0001b\tc\n","emoji":"😀 ☃ 中文","esc":"\u2028\u2029\ud83d\ude00"}""",
        """{"Zürich":1,"zurich":2,"Z":3,"_":4,"é":5,"e\u0301":6,"😀":7,"\uffff":8}""",
        """{"n":[0,-0,1.0,1.50,1e3,1E-7,-12.5e+10,123456789012345678901234567890,9223372036854775807,-9223372036854775808,0.1,3.141592653589793238]}""",
        """{"B":2,"a":1,"aa":0,"A":[1,"1",true,false,null]}""",
        """{"deep":{"l1":{"l2":{"l3":{"l4":{"z":1,"y":[{"k":"v","j":"w"}]}}}}}}""",
    ];

    [Theory]
    [MemberData(nameof(Documents))]
    public void Md5Hex_ParsedDocument_MatchesReference(string json)
    {
        // Given
        var node = JsonNode.Parse(json)!;

        // When
        var canonical = RecordHasher.Canonical(node);
        var hash = RecordHasher.Md5Hex(node);

        // Then
        canonical.ShouldBe(Reference.Canonical(node));
        hash.ShouldBe(Reference.Md5Hex(node));
    }

    [Fact]
    public void Md5Hex_BuiltFromPrimitives_MatchesReference()
    {
        // Given: values a connector builds directly (not element-backed): CLR numbers, strings, nested nodes
        var node = new JsonObject
        {
            ["s"] = "Zürich <&> \"q\"",
            ["l"] = long.MinValue,
            ["i"] = 42,
            ["d"] = 0.1 + 0.2,
            ["f"] = 1.5f,
            ["m"] = 12.30m,
            ["t"] = true,
            ["nul"] = null,
            ["o"] = new JsonObject { ["y"] = JsonValue.Create(-1e-300), ["x"] = new JsonArray(1, "two", null, new JsonObject { ["b"] = 1, ["a"] = 2 }) },
            ["dt"] = JsonValue.Create(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(2))),
            ["el"] = JsonValue.Create(JsonDocument.Parse("1.000").RootElement),
            ["eo"] = JsonSerializer.SerializeToNode(JsonDocument.Parse("""{"q":1.000,"p":[3,2]}""").RootElement),
        };

        // When / Then
        RecordHasher.Canonical(node).ShouldBe(Reference.Canonical(node));
        RecordHasher.Md5Hex(node).ShouldBe(Reference.Md5Hex(node));
    }

    [Fact]
    public void Md5HexUtf8_AnyRecord_SameAsMd5Hex()
    {
        // Given
        var node = JsonNode.Parse("""{"b":[1,{"d":"ü","c":null}],"a":"x"}""")!;
        var utf8 = new byte[32];

        // When
        RecordHasher.Md5HexUtf8(node, utf8);

        // Then
        Encoding.ASCII.GetString(utf8).ShouldBe(RecordHasher.Md5Hex(node));
    }

    [Fact]
    public void Md5Hex_ManyThreads_SameAsReference()
    {
        // Given
        var nodes = Enumerable.Range(0, 2000)
            .Select(i => JsonNode.Parse($$"""{"v":{{i}},"s":"x{{i}}","o":{"k{{i % 7}}":[{{i}},"{{i}}"],"a":{{(i % 3 == 0 ? "true" : "false")}} } }""")!)
            .ToArray();
        var expected = nodes.Select(Reference.Md5Hex).ToArray();

        // When
        var actual = new string[nodes.Length];
        Parallel.For(0, nodes.Length, i => actual[i] = RecordHasher.Md5Hex(nodes[i]));

        // Then
        actual.ShouldBe(expected);
    }

    /// <summary>The hasher as it was before pooling (LINQ sort, a writer per call): the definition of the hash.</summary>
    private static class Reference
    {
        public static string Md5Hex(JsonNode? node) => Convert.ToHexStringLower(MD5.HashData(Bytes(node)));

        public static string Canonical(JsonNode? node) => Encoding.UTF8.GetString(Bytes(node));

        private static byte[] Bytes(JsonNode? node)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                Write(writer, node);
            }
            return buffer.ToArray();
        }

        private static void Write(Utf8JsonWriter writer, JsonNode? node)
        {
            switch (node)
            {
                case null:
                    writer.WriteNullValue();
                    break;
                case JsonObject obj:
                    writer.WriteStartObject();
                    foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                    {
                        writer.WritePropertyName(key);
                        Write(writer, value);
                    }
                    writer.WriteEndObject();
                    break;
                case JsonArray array:
                    writer.WriteStartArray();
                    foreach (var item in array) Write(writer, item);
                    writer.WriteEndArray();
                    break;
                default:
                    node.WriteTo(writer);
                    break;
            }
        }
    }
}
