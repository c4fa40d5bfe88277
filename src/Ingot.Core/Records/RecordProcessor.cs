using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;

namespace Ingot.Records;

/// <summary>A chunk's records failed validation and the pipeline says <c>on_invalid: fail</c>.</summary>
public sealed class InvalidRecordsException(string message) : Exception(message);

/// <summary>
/// Transforms, then validation against the pipeline's JSON Schema (and its warnings schema), applied to every record of
/// a fetched chunk (never to the raw bodies). Invalid records are quarantined, kept with their status, or fail the chunk.
/// Kept records carry their outcome on the page (<see cref="FetchedPage.Checks"/>); when no destination stores it
/// beside the record, <c>keep</c> writes it into the record's fields instead (<see cref="StatusColumn"/>, <see cref="ErrorsColumn"/>).
/// </summary>
public sealed class RecordProcessor
{
    public const string StatusColumn = "validation_status";
    public const string ErrorsColumn = "validation_errors";

    private readonly IReadOnlyList<ITransform> _transforms;
    private readonly RecordValidator? _schema;
    private readonly RecordValidator? _warnings;
    private readonly OnInvalid _onInvalid;
    private readonly bool _markFields;

    private RecordProcessor(IReadOnlyList<ITransform> transforms, RecordValidator? schema, RecordValidator? warnings, OnInvalid onInvalid, bool markFields)
    {
        _transforms = transforms;
        _schema = schema;
        _warnings = warnings;
        _onInvalid = onInvalid;
        _markFields = markFields;
    }

    /// <summary>Null when the pipeline has neither transforms nor validation.</summary>
    public static async Task<RecordProcessor?> CreateAsync(PipelineSpec spec, CancellationToken cancellationToken)
    {
        if (spec.Transforms.Count == 0 && spec.Validation is null) return null;
        var v = spec.Validation;
        var schema = v?.SchemaPath is { } s ? await RecordValidator.LoadAsync(s, cancellationToken).ConfigureAwait(false) : null;
        var warnings = v?.WarningsPath is { } w ? await RecordValidator.LoadAsync(w, cancellationToken).ConfigureAwait(false) : null;
        var keeps = spec.Destinations.Any(d => d.KeepsInvalidRows);
        return new RecordProcessor(Transforms.Build(spec.Transforms), schema, warnings, v?.OnInvalid ?? (keeps ? OnInvalid.Keep : OnInvalid.Quarantine), markFields: !keeps);
    }

    /// <summary>A page with its valid (or kept) records and their checks, and the invalid ones set aside for the quarantine.</summary>
    public FetchedPage Apply(string unitKey, FetchedPage page)
    {
        var quarantine = new List<QuarantinedRecord>();
        var kept = new List<Record>(page.Records.Count);
        var checks = new List<RecordCheck>(page.Records.Count);
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
            ReadOnlyMemory<byte> json = default;
            if (errors.Count == 0 && _schema is not null)
            {
                json = Text(record);
                errors.AddRange(_schema.Validate(json.Span));
            }
            if (errors.Count == 0)
            {
                // Warnings are asked only of records the main schema accepts: an invalid record's reasons are its errors.
                IReadOnlyList<string> warnings = _warnings is null ? [] : _warnings.Validate((json.IsEmpty ? Text(record) : json).Span);
                var check = warnings.Count == 0 ? RecordCheck.Valid : new RecordCheck(RecordStatus.Warning, string.Join("; ", warnings));
                if (_onInvalid == OnInvalid.Keep && _markFields) Mark(record.Fields, check.StatusText, warnings);
                kept.Add(record);
                checks.Add(check);
                continue;
            }
            switch (_onInvalid)
            {
                case OnInvalid.Fail:
                    throw new InvalidRecordsException($"chunk {unitKey}: invalid record in {page.Key}: {string.Join("; ", errors)}");
                case OnInvalid.Keep:
                    if (_markFields) Mark(record.Fields, "invalid", errors);
                    kept.Add(record);
                    checks.Add(new RecordCheck(RecordStatus.Invalid, string.Join("; ", errors)));
                    break;
                default:
                    quarantine.Add(new QuarantinedRecord(record, page.Key, errors));
                    break;
            }
        }
        return page with { Records = kept, Quarantine = quarantine, Checks = checks };
    }

    /// <summary>A record still held as its source text is validated as that text: no object is built for it.</summary>
    private ReadOnlyMemory<byte> Text(Record record) =>
        _transforms.Count == 0 && record.TryGetUtf8(out var utf8) ? utf8 : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record.Fields);

    private static void Mark(JsonObject fields, string status, IReadOnlyList<string> errors)
    {
        fields[StatusColumn] = status;
        var list = new JsonArray();
        foreach (var e in errors) list.Add(e);
        fields[ErrorsColumn] = list;
    }
}
