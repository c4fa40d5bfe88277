using System.Text;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources.Noaa;
using Record = Ingot.Records.Record;

namespace Ingot.Tests.Core.Records;

public sealed class RecordProcessorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingot-processor-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<RecordProcessor> Processor(OnInvalid onInvalid)
    {
        var schema = Path.Combine(_dir, "schema.json");
        await File.WriteAllTextAsync(schema, """
            {"type":"object","required":["station","value"],"properties":{"station":{"type":"string"},"value":{"type":"number"}}}
            """, TestContext.Current.CancellationToken);
        var source = new NoaaSourceSpec("http://noaa.test", "tok", "PRECIP_15", ["COOP:010008"], ["QPCP"], null,
            DateTimeOffset.UnixEpoch, null, new IsoPeriod(1, TimeSpan.Zero, "P1M"), 1000, 10);
        var spec = new PipelineSpec("p", null, null, true, null, [source], HttpSpec.Default, [], new ValidationSpec(schema, onInvalid), [], Path.Combine(_dir, "p.yaml"));
        return (await RecordProcessor.CreateAsync(spec, TestContext.Current.CancellationToken))!;
    }

    private static ChunkData Chunk(params Record[] records) =>
        new("k", "s", DateTimeOffset.UnixEpoch, [new FetchedPage("k", ReadOnlyMemory<byte>.Empty, "GET /", 200, DateTimeOffset.UnixEpoch, records)]);

    private static Record Utf8(string json) => Record.FromUtf8(Encoding.UTF8.GetBytes(json), null);

    [Fact]
    public async Task Apply_TextRecords_ValidatedAsTextValidOnesStayText()
    {
        // Given a validation-only pipeline and records held as their source text, one missing a required field
        var processor = await Processor(OnInvalid.Quarantine);
        var good = Utf8("""{"station":"COOP:010008","value":0.1}""");
        var bad = Utf8("""{"station":"COOP:010008"}""");

        // When the chunk is processed
        var result = processor.Apply(Chunk(good, bad));

        // Then the valid record lands still as text (no object was built for it), the invalid one is quarantined with why
        result.Records.ShouldBe([good]);
        good.TryGetUtf8(out _).ShouldBeTrue();
        result.Quarantine.ShouldHaveSingleItem().Errors.ShouldHaveSingleItem().ShouldContain("value");
    }
}
