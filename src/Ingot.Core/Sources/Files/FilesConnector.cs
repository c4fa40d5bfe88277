using Ingot.Config;
using Ingot.Connectors;
using Ingot.Storage;

namespace Ingot.Sources.Files;

/// <summary><c>type: files</c> (DESIGN §4.1): manual drops in a folder or under an <c>s3://</c> prefix.</summary>
public sealed record FilesSourceSpec(string Path, StoreOptions Store, string Pattern, FileFormat? Format, CsvOptions Csv, string Stream, string? EventTime)
    : SourceSpec("files")
{
    public override IReadOnlyList<string> Streams => [Stream];

    public override IEnumerable<string?> Secrets => [Store.AccessKey, Store.SecretKey];

    /// <summary>Where <c>event_time</c> is written: a drop's fields are known only from its records, checked on the first page.</summary>
    public FieldRef? EventTimeRef { get; init; }

    public override IReadOnlyList<FieldRef> FieldRefs => EventTimeRef is { } r ? [r] : [];
}

internal sealed class FilesConnector : ISourceConnector
{
    public string Type => "files";

    public SourceSpec Read(ConfigSection m)
    {
        var ctx = m.Context;
        var path = ctx.LocalPath(m.Required("path"));
        var pattern = m.Optional("pattern")?.Value ?? "**/*";
        FileFormat? format = null;
        if (m.Optional("format") is { } f)
        {
            format = f.Value switch
            {
                "csv" => FileFormat.Csv,
                "json" => FileFormat.Json,
                "ndjson" => FileFormat.Ndjson,
                _ => throw ctx.Error(f.Node, $"format: '{f.Value}' is not one of csv, json, ndjson"),
            };
        }
        var csv = CsvOptions.Default;
        if (m.OptionalMap("csv") is { } c)
        {
            try
            {
                if (c.Optional("delimiter") is { } d)
                {
                    var text = d.Value is "\\t" or "tab" ? "\t" : d.Value;
                    if (text.Length != 1) throw ctx.Error(d.Node, $"csv.delimiter: '{d.Value}' must be one character (or tab)");
                    csv = csv with { Delimiter = text[0] };
                }
                if (c.Optional("header") is { } h) csv = csv with { Header = ctx.Bool(h) };
                if (c.Optional("encoding") is { } e) csv = csv with { Encoding = e.Value };
            }
            catch (ConfigException e) when (e.File is null)
            {
                throw c.Error($"csv: {e.Message}");
            }
            c.RejectUnknown();
        }
        var name = m.Optional("name")?.Value ?? "files";
        var stream = m.Optional("stream")?.Value ?? name;
        var eventTimeNode = m.Optional("event_time");
        var store = StoreSettings.Read(m);
        m.RejectUnknown();
        return new FilesSourceSpec(path, store, pattern, format, csv, stream, eventTimeNode?.Value)
        {
            EventTimeRef = eventTimeNode is { } et ? new FieldRef(et.Value, "event_time", ctx.Where(et.Node), stream) : null,
        };
    }

    public ISource Create(SourceSpec spec, SourceServices services)
    {
        var files = (FilesSourceSpec)spec;
        return new FilesSource(files, services.Stores.Open(files.Path, files.Store), services.Time);
    }
}
