using Ingot.Config;
using Ingot.Records;

namespace Ingot.Engine;

/// <summary>
/// The fields a stream's settings name (partition columns, an event time) against the fields the stream produces: known
/// up front where the source can say (KNMI parameters, NOAA's result fields, a table's columns), else from its first records.
/// </summary>
public static class FieldCheck
{
    /// <summary>Every field reference that applies to <paramref name="stream"/>: its source's and every destination's.</summary>
    public static IReadOnlyList<FieldRef> RefsFor(PipelineSpec spec, SourceSpec? source, string stream) =>
        (source?.FieldRefs ?? []).Concat(spec.Destinations.SelectMany(d => d.FieldRefs))
            .Where(r => r.Stream is null || r.Stream == stream)
            .ToList();

    /// <summary>The source's fields plus what the pipeline adds to every record: metadata columns and transform outputs.</summary>
    public static IReadOnlySet<string> Produced(PipelineSpec spec, IEnumerable<string> sourceFields)
    {
        var all = new HashSet<string>(sourceFields, StringComparer.Ordinal);
        all.UnionWith(MetadataColumns.All);
        foreach (var t in spec.Transforms)
        {
            if (t.Settings.TryGetValue("as", out var added)) all.Add(added);
        }
        return all;
    }

    /// <summary>One message per reference to a field the stream does not produce, at the setting's <c>file:line:col</c>.</summary>
    public static List<string> Missing(IReadOnlySet<string> produced, IReadOnlyList<FieldRef> refs, string stream, string whose)
    {
        var problems = new List<string>();
        foreach (var r in refs)
        {
            if (produced.Contains(r.Field)) continue;
            var known = produced.Where(f => !f.StartsWith('_')).Order(StringComparer.Ordinal).ToList();
            problems.Add($"{r.Location}: {r.Setting}: '{r.Field}' is not a field of stream {stream}{Spelling.Hint(r.Field, produced)} ({whose}: {string.Join(", ", known.Take(30))}{(known.Count > 30 ? ", …" : "")})");
        }
        return problems;
    }
}
