using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;

namespace Ingot.Records;

/// <summary>A chunk's records failed validation and the pipeline says <c>on_invalid: fail</c>.</summary>
public sealed class InvalidRecordsException(string message) : Exception(message);

/// <summary>
/// Transforms, then validation against the pipeline's JSON Schema, applied to every record of a fetched chunk
/// (never to the raw bodies). Invalid records are quarantined, kept with their status, or fail the chunk.
/// </summary>
public sealed class RecordProcessor
{
    public const string StatusColumn = "validation_status";
    public const string ErrorsColumn = "validation_errors";

    private readonly IReadOnlyList<ITransform> _transforms;
    private readonly RecordValidator? _schema;
    private readonly OnInvalid _onInvalid;

    private RecordProcessor(IReadOnlyList<ITransform> transforms, RecordValidator? schema, OnInvalid onInvalid)
    {
        _transforms = transforms;
        _schema = schema;
        _onInvalid = onInvalid;
    }

    /// <summary>Null when the pipeline has neither transforms nor validation.</summary>
    public static async Task<RecordProcessor?> CreateAsync(PipelineSpec spec, CancellationToken cancellationToken)
    {
        if (spec.Transforms.Count == 0 && spec.Validation is null) return null;
        RecordValidator? schema = null;
        if (spec.Validation is { } v)
            schema = await RecordValidator.LoadAsync(v.SchemaPath, cancellationToken).ConfigureAwait(false);
        return new RecordProcessor(Transforms.Build(spec.Transforms), schema, spec.Validation?.OnInvalid ?? OnInvalid.Quarantine);
    }

    /// <summary>A page with its valid (or kept) records, and the invalid ones set aside for the quarantine.</summary>
    public FetchedPage Apply(string unitKey, FetchedPage page)
    {
        var quarantine = new List<QuarantinedRecord>();
        {
            var kept = new List<Record>(page.Records.Count);
            foreach (var record in page.Records)
            {
                var errors = new List<string>();
                try
                {
                    foreach (var t in _transforms) t.Apply(record.Fields);
                }
                catch (FormatException e)
                {
                    errors.Add(e.Message);
                }
                catch (InvalidOperationException e)
                {
                    errors.Add(e.Message);
                }
                if (errors.Count == 0 && _schema is not null)
                {
                    // A record still held as its source text is validated as that text: no object is built for it.
                    var json = _transforms.Count == 0 && record.TryGetUtf8(out var utf8) ? utf8 : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record.Fields);
                    errors.AddRange(_schema.Validate(json.Span));
                }
                if (errors.Count == 0)
                {
                    if (_onInvalid == OnInvalid.Keep) Mark(record.Fields, []);
                    kept.Add(record);
                    continue;
                }
                switch (_onInvalid)
                {
                    case OnInvalid.Fail:
                        throw new InvalidRecordsException($"chunk {unitKey}: invalid record in {page.Key}: {string.Join("; ", errors)}");
                    case OnInvalid.Keep:
                        Mark(record.Fields, errors);
                        kept.Add(record);
                        break;
                    default:
                        quarantine.Add(new QuarantinedRecord(record, page.Key, errors));
                        break;
                }
            }
            return page with { Records = kept, Quarantine = quarantine };
        }
    }

    private static void Mark(JsonObject fields, List<string> errors)
    {
        fields[StatusColumn] = errors.Count == 0 ? "valid" : "invalid";
        var list = new JsonArray();
        foreach (var e in errors) list.Add(e);
        fields[ErrorsColumn] = list;
    }
}
