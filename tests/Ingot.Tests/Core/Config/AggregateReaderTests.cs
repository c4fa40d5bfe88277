using Ingot.Config;
using Ingot.Tests.Infrastructure;

namespace Ingot.Tests.Core.Config;

/// <summary><c>aggregates:</c> read strictly: additive measures split into function, argument and filter; everything else a <c>file:line:col</c> error.</summary>
public sealed class AggregateReaderTests
{
    private static string Yaml(string aggregates, string destinations = "  - type: iceberg\n    warehouse: ./warehouse", string sources = Source) =>
        $"name: p\n{sources}\ndestinations:\n{destinations}\n{aggregates}";

    private const string Source = """
        source:
          type: noaa-cdo
          base_url: simulator
          token: t
          dataset: PRECIP_15
          stations: [COOP:010008]
          datatypes: [QPCP]
          start: 2010-01-01T00:00:00Z
          end: 2010-02-01T00:00:00Z
        """;

    private static PipelineSpec Parse(string yaml) => TestPipelines.Parse(yaml, "/tmp/p.yaml", _ => null);

    private static ConfigException Fails(string yaml) => Should.Throw<ConfigException>(() => Parse(yaml));

    [Fact]
    public void Read_AdditiveMeasures_SplitIntoFunctionArgumentAndFilterWithDefaults()
    {
        // Given count(*), count(expr) and sum(expr) with filters holding parentheses and quotes
        var spec = Parse(Yaml("""
            aggregates:
              - name: by_station
                group_by: [station, _ingestion_id]
                measures:
                  records: "count(*)"
                  flagged: "COUNT(attributes) FILTER (WHERE (value = 99999) OR station = 'a)b')"
                  total: "sum(value * 2)"
                derived: {pct: "round(100.0 * flagged / nullif(records, 0), 2)", doubled: "CAST(total AS DOUBLE) * 2"}
            """));

        // Then each measure is split, the stream and destination default, and the table is {pipeline}_{name}
        var a = spec.Aggregates.ShouldHaveSingleItem();
        a.Stream.ShouldBe("precip_15");
        a.Destination.ShouldBe("iceberg");
        a.TableFor("p").ShouldBe("p_by_station");
        a.GroupBy.Select(g => g.Name).ShouldBe(["station", "_ingestion_id"]);
        a.Measures.Select(m => (m.Name, m.Function, m.Argument, m.Filter)).ShouldBe([
            ("records", "count", null, null),
            ("flagged", "count", "attributes", "(value = 99999) OR station = 'a)b'"),
            ("total", "sum", "value * 2", null),
        ]);
        a.Derived.Select(d => d.Name).ShouldBe(["pct", "doubled"]);
        a.Fingerprint.ShouldContain("measure flagged=count(attributes) FILTER (WHERE (value = 99999) OR station = 'a)b')");
    }

    [Theory]
    [InlineData("min(value)", "min(…) is not additive")]
    [InlineData("count(DISTINCT station)", "count(DISTINCT …) cannot be merged")]
    [InlineData("sum(*)", "sum(*) is not an expression")]
    [InlineData("count(*) OVER ()", "only FILTER (WHERE condition) may follow")]
    [InlineData("sum(count(*))", "an aggregate inside an aggregate")]
    [InlineData("count(*); DROP TABLE x", "one expression only")]
    [InlineData("value + 1", "is not an aggregate")]
    [InlineData("count(*", "unbalanced parentheses")]
    public void Read_NotAdditiveOrMalformedMeasure_ErrorAtTheMeasure(string measure, string message)
    {
        // Given a measure that cannot be kept incrementally (or is not one aggregate)
        var e = Fails(Yaml($"aggregates:\n  - name: a\n    measures:\n      m: \"{measure}\""));

        // Then the error names it at its line
        e.Message.ShouldContain("aggregates[0].measures.m: ");
        e.Message.ShouldContain(message);
        e.Line.ShouldBe(17);
    }

    [Fact]
    public void Read_SeveralBadParts_EveryErrorReportedInFileOrder()
    {
        // Given two bad measures, a derived value naming a group column that is not one, and an unknown key
        var e = Fails(Yaml("""
            aggregates:
              - name: a
                group_by: [station]
                measures: {n: "avg(value)", m: "max(value)"}
                derived: {x: "n / station2"}
                windo: P1M
            """));

        // Then each is reported, in file order
        e.Errors.Select(x => x.Detail!.Split(':')[0]).ShouldBe(["aggregates[0].measures.n", "aggregates[0].measures.m", "aggregates[0].derived.x", "aggregates[0].windo"]);
        e.Errors[2].Detail!.ShouldContain("'station2' is not a measure or group column of this aggregate (did you mean station?)");
    }

    [Fact]
    public void Read_UnknownStreamOrDuplicateNames_Errors()
    {
        Fails(Yaml("aggregates:\n  - name: a\n    stream: precip_16\n    measures: {n: count(*)}")).Message
            .ShouldContain("stream: 'precip_16' is not a stream of this pipeline (did you mean precip_15?) (streams: precip_15)");
        Fails(Yaml("aggregates:\n  - name: a\n    group_by: [n]\n    measures: {n: count(*)}")).Message.ShouldContain("'n' is already a group_by of this aggregate");
        Fails(Yaml("aggregates:\n  - name: a\n    measures: {n: count(*)}\n  - name: a\n    measures: {n: count(*)}")).Message.ShouldContain("an aggregate named 'a' is already defined");
        Fails(Yaml("aggregates:\n  - name: a\n    measures: {_rows: count(*)}")).Message.ShouldContain("'_rows' must match");
        Fails(Yaml("aggregates:\n  - name: a\n    measures: {}")).Message.ShouldContain("give at least one");
    }

    [Fact]
    public void Read_SeveralIcebergDestinations_NeedsDestinationAndAcceptsIt()
    {
        const string Two = "  - type: iceberg\n    warehouse: ./w1\n  - type: iceberg\n    warehouse: ./w2";
        Fails(Yaml("aggregates:\n  - name: a\n    measures: {n: count(*)}", Two)).Message.ShouldContain("destination: required when the pipeline has several iceberg destinations (iceberg, iceberg#2)");
        Parse(Yaml("aggregates:\n  - name: a\n    destination: iceberg#2\n    measures: {n: count(*)}", Two)).Aggregates[0].Destination.ShouldBe("iceberg#2");
    }
}
