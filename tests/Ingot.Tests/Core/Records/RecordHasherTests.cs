using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ingot.Records;

namespace Ingot.Tests.Core.Records;

public sealed class RecordHasherTests
{
    private static JsonObject Obj(string json) => JsonNode.Parse(json)!.AsObject();

    private static string Md5(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Md5Hex_KeyOrderDiffers_SameHash()
    {
        // Given
        var a = Obj("""{"station":"06260","time":"2020-01-01T00:00:00Z","TG":1.5}""");
        var b = Obj("""{"TG":1.5,"time":"2020-01-01T00:00:00Z","station":"06260"}""");

        // When / Then
        RecordHasher.Md5Hex(a).ShouldBe(RecordHasher.Md5Hex(b));
    }

    [Fact]
    public void Canonical_NestedObjects_SortsKeysAtEveryLevel()
    {
        // Given
        var node = Obj("""{ "z": {"y": 1, "x": [ {"b": 2, "a": 1} ]}, "a": null }""");

        // When
        var text = RecordHasher.Canonical(node);

        // Then
        text.ShouldBe("""{"a":null,"z":{"x":[{"a":1,"b":2}],"y":1}}""");
    }

    [Fact]
    public void Md5Hex_NestedKeyOrderDiffers_SameHash()
    {
        // Given
        var a = Obj("""{"m":{"q":1,"p":{"s":true,"r":false}}}""");
        var b = Obj("""{"m":{"p":{"r":false,"s":true},"q":1}}""");

        // When / Then
        RecordHasher.Md5Hex(a).ShouldBe(RecordHasher.Md5Hex(b));
    }

    [Theory]
    [InlineData("""{"a":1,"b":"x"}""", """{"a":2,"b":"x"}""")]
    [InlineData("""{"a":1,"b":"x"}""", """{"a":1,"b":"y"}""")]
    [InlineData("""{"a":1,"b":"x"}""", """{"a":1,"b":"x","c":null}""")]
    [InlineData("""{"a":[1,2]}""", """{"a":[2,1]}""")]
    [InlineData("""{"a":"1"}""", """{"a":1}""")]
    [InlineData("""{"a":{"b":1}}""", """{"a":{"b":2}}""")]
    public void Md5Hex_ValueChanges_HashChanges(string before, string after)
    {
        // When / Then
        RecordHasher.Md5Hex(Obj(before)).ShouldNotBe(RecordHasher.Md5Hex(Obj(after)));
    }

    [Fact]
    public void Md5Hex_SmallObject_IsMd5OfCanonicalText()
    {
        // Given: canonical form written by hand: keys sorted ordinally, no whitespace
        var node = Obj("""{ "b": "x", "a": 1, "c": [true, null] }""");
        const string canonical = """{"a":1,"b":"x","c":[true,null]}""";

        // When
        var hash = RecordHasher.Md5Hex(node);

        // Then
        hash.ShouldBe(Md5(canonical));
        hash.ShouldBe("c71faa09694f8a352e5b3920815d0ddb");
    }

    [Fact]
    public void Md5Hex_NonAsciiText_HashesUnescapedUtf8()
    {
        // Given
        var node = Obj("""{"name":"Zürich","sym":"<>&"}""");

        // When
        var hash = RecordHasher.Md5Hex(node);

        // Then
        RecordHasher.Canonical(node).ShouldBe("""{"name":"Zürich","sym":"<>&"}""");
        hash.ShouldBe(Md5("""{"name":"Zürich","sym":"<>&"}"""));
    }

    [Fact]
    public void Md5Hex_UppercaseAndLowercaseKeys_SortOrdinally()
    {
        // Given: ordinal order puts 'B' (0x42) before 'a' (0x61)
        var node = Obj("""{"a":1,"B":2}""");

        // When
        var canonical = RecordHasher.Canonical(node);

        // Then
        canonical.ShouldBe("""{"B":2,"a":1}""");
        RecordHasher.Md5Hex(node).ShouldBe(Md5(canonical));
    }

    [Fact]
    public void RecordHash_Record_UsesRecordHasher()
    {
        // Given
        var fields = Obj("""{"b":2,"a":1}""");
        var record = new Ingot.Records.Record(fields, null);

        // When
        var hash = record.Hash();

        // Then
        hash.ShouldBe(Md5("""{"a":1,"b":2}"""));
    }
}
