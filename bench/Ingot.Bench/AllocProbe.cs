using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Ingot.Bench;

/// <summary>
/// Where a bench child's managed allocations go, by type (large-object heap apart), from the runtime's sampled
/// allocation events: <c>ALLOCPROBE=1 Ingot.Bench parquet-child ingot …</c> prints the top 25 to stderr.
/// </summary>
internal sealed class AllocProbe : EventListener
{
    public readonly ConcurrentDictionary<string, long> Bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal)) return;
        var type = e.Payload![e.PayloadNames!.IndexOf("TypeName")] as string ?? "?";
        var kind = Convert.ToInt32(e.Payload[e.PayloadNames.IndexOf("AllocationKind")]) == 1 ? "LOH " : "";
        var amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf("AllocationAmount64")]);
        Bytes.AddOrUpdate(kind + type, amount, (_, v) => v + amount);
    }

    public void Print()
    {
        foreach (var (k, v) in Bytes.OrderByDescending(x => x.Value).Take(25)) Console.Error.WriteLine($"{v >> 20,8} MB {k}");
    }
}
