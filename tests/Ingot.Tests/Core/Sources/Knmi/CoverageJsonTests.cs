using System.Text;
using System.Text.Json.Nodes;
using Ingot.Sources.Knmi;

namespace Ingot.Tests.Core.Sources.Knmi;

public sealed class CoverageJsonTests
{
    private static readonly DateTimeOffset From = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2020, 1, 1, 3, 0, 0, TimeSpan.Zero);

    private static string Coverage(string station, double x, double y, string[] times, string ranges)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var t = string.Join(',', times.Select(v => $"\"{v}\""));
        return "{\"type\":\"Coverage\",\"eumetnet:locationId\":\"" + station + "\","
            + "\"domain\":{\"type\":\"Domain\",\"domainType\":\"PointSeries\",\"axes\":{"
            + "\"x\":{\"values\":[" + x.ToString(inv) + "]},"
            + "\"y\":{\"values\":[" + y.ToString(inv) + "]},"
            + "\"t\":{\"values\":[" + t + "]}}},"
            + "\"ranges\":{" + ranges + "}}";
    }

    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static List<Ingot.Records.Record> Parse(string body) => CoverageJson.Parse(B(body), From, To);

    [Fact]
    public void Parse_CollectionWithTwoStations_OneRecordPerStationAndTime()
    {
        // Given
        var a = Coverage("0-20000-0-06260", 5.18, 52.1, ["2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z"],
            """ "T":{"type":"NdArray","values":[1.5,2.5]}, "RH":{"values":[0.0,0.3]} """);
        var b = Coverage("0-20000-0-06240", 4.79, 52.32, ["2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z"],
            """ "T":{"values":[3.5,4.5]}, "RH":{"values":[1.0,1.3]} """);
        var body = $$"""{"type":"CoverageCollection","coverages":[{{a}},{{b}}]}""";

        // When
        var records = Parse(body);

        // Then
        records.Count.ShouldBe(4);
        records.Select(r => ((string?)r.Fields["station"], (string?)r.Fields["time"])).ShouldBe(
        [
            ("0-20000-0-06260", "2020-01-01T00:00:00Z"), ("0-20000-0-06260", "2020-01-01T01:00:00Z"),
            ("0-20000-0-06240", "2020-01-01T00:00:00Z"), ("0-20000-0-06240", "2020-01-01T01:00:00Z"),
        ]);
        var first = records[0];
        ((double?)first.Fields["lat"]).ShouldBe(52.1);
        ((double?)first.Fields["lon"]).ShouldBe(5.18);
        ((double?)first.Fields["T"]).ShouldBe(1.5);
        ((double?)first.Fields["RH"]).ShouldBe(0.0);
        first.EventTs.ShouldBe(From);
        ((double?)records[3].Fields["T"]).ShouldBe(4.5);
        records[3].EventTs.ShouldBe(From.AddHours(1));
    }

    [Fact]
    public void Parse_Records_AreCompactUtf8WithSourceDigitsAndTheObjectFormsHash()
    {
        // Given a coverage whose values carry digits a double would not print the same way, and a null
        var body = Coverage("0-20000-0-06260", 5.18, 52.1, ["2020-01-01T00:00:00Z"],
            """ "T":{"values":[1.50]}, "RH":{"values":[null]}, "P":{"values":[1E+3]} """);

        // When
        var record = Parse(body).ShouldHaveSingleItem();

        // Then the record is the UTF-8 text of one compact object (no object built), in the field order analysts see
        record.TryGetUtf8(out var json).ShouldBeTrue();
        Encoding.UTF8.GetString(json.Span).ShouldBe(
            """{"station":"0-20000-0-06260","time":"2020-01-01T00:00:00Z","lat":52.1,"lon":5.18,"T":1.50,"RH":null,"P":1E+3}""");
        // And it hashes as the object the source used to build (the canonical writer keeps source digits too)
        var asObject = new JsonObject
        {
            ["station"] = "0-20000-0-06260", ["time"] = "2020-01-01T00:00:00Z", ["lat"] = 52.1, ["lon"] = 5.18,
            ["T"] = JsonNode.Parse("1.50"), ["RH"] = null, ["P"] = JsonNode.Parse("1E+3"),
        };
        Ingot.Records.RecordHasher.Md5Hex(JsonNode.Parse(json.Span)).ShouldBe(Ingot.Records.RecordHasher.Md5Hex(asObject));
    }

    [Fact]
    public void Parse_BareCoverage_ReadsRecords()
    {
        // Given
        var body = Coverage("0-20000-0-06260", 5.18, 52.1, ["2020-01-01T02:00:00Z"], """ "TG":{"values":[7]} """);

        // When
        var records = Parse(body);

        // Then
        var record = records.ShouldHaveSingleItem();
        record.Fields.Select(p => p.Key).ShouldBe(["station", "time", "lat", "lon", "TG"]);
        ((int?)record.Fields["TG"]).ShouldBe(7);
        record.EventTs.ShouldBe(From.AddHours(2));
    }

    [Fact]
    public void Parse_NullValue_KeptAsNull()
    {
        // Given
        var body = Coverage("0-20000-0-06260", 5.18, 52.1, ["2020-01-01T00:00:00Z"], """ "T":{"values":[null]}, "RH":{"values":[0.1]} """);

        // When
        var record = Parse(body).ShouldHaveSingleItem();

        // Then
        record.Fields.ContainsKey("T").ShouldBeTrue();
        record.Fields["T"].ShouldBeNull();
        record.Hash().ShouldBe(Ingot.Records.RecordHasher.Md5Hex(JsonNode.Parse(record.Fields.ToJsonString())));
    }

    [Fact]
    public void Parse_TimesOutsideRange_AreDropped()
    {
        // Given: one before From, one at the exclusive To, one after
        var body = Coverage("0-20000-0-06260", 5.18, 52.1,
            ["2019-12-31T23:00:00Z", "2020-01-01T00:00:00Z", "2020-01-01T02:00:00Z", "2020-01-01T03:00:00Z", "2020-01-01T04:00:00Z"],
            """ "T":{"values":[0,1,2,3,4]} """);

        // When
        var records = Parse(body);

        // Then
        records.Select(r => (int?)r.Fields["T"]).ShouldBe([1, 2]);
    }

    [Fact]
    public void Parse_EmptyCollection_NoRecords()
    {
        // When
        var records = Parse("""{"type":"CoverageCollection","coverages":[]}""");

        // Then
        records.ShouldBeEmpty();
    }

    [Theory]
    [InlineData("""{"type":"CoverageCollection","coverages":[{"type":"Coverage","eumetnet:locationId":"x","domain":{"axes":{"t":{"val""", "not JSON")]
    [InlineData("<html><head><title>502 Bad Gateway</title></head></html>", "not JSON")]
    [InlineData("", "not JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("""{"type":"FeatureCollection","features":[]}""", "unexpected body type 'FeatureCollection'")]
    [InlineData("""{"detail":"Not Found"}""", "unexpected body type '(none)'")]
    [InlineData("""{"type":"CoverageCollection"}""", "CoverageCollection without coverages")]
    [InlineData("""{"type":"CoverageCollection","coverages":[1]}""", "coverage is not an object")]
    [InlineData("""{"type":"Coverage","domain":{"axes":{"t":{"values":[]}}},"ranges":{}}""", "without eumetnet:locationId")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","ranges":{}}""", "without domain axes")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{}},"ranges":{}}""", "without t axis")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"t":{"values":[]}}}}""", "without ranges")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"t":{"values":[]}}},"ranges":{"T":{}}}""", "range T without values")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"t":{"values":["2020-01-01T00:00:00Z"]}}},"ranges":{"T":{"values":[1,2]}}}""", "range T has 2 values for 1 times")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"t":{"values":["yesterday"]}}},"ranges":{}}""", "bad time 'yesterday'")]
    [InlineData("""{"type":"Coverage","eumetnet:locationId":"s","domain":{"axes":{"t":{"values":[null]}}},"ranges":{}}""", "null time")]
    public void Parse_MalformedBody_ThrowsFormatException(string body, string expected)
    {
        // When
        var e = Should.Throw<FormatException>(() => Parse(body));

        // Then
        e.Message.ShouldContain(expected);
    }

    [Fact]
    public void Parse_TruncatedCollection_ThrowsFormatException()
    {
        // Given: a complete body cut in the middle, as a dropped connection leaves it
        var whole = Coverage("0-20000-0-06260", 5.18, 52.1, ["2020-01-01T00:00:00Z"], """ "T":{"values":[1]} """);
        var body = $$"""{"type":"CoverageCollection","coverages":[{{whole}}]}""";

        // When / Then
        for (var cut = 1; cut < body.Length - 1; cut += 17)
            Should.Throw<FormatException>(() => Parse(body[..cut]), $"cut at {cut}");
    }
}
