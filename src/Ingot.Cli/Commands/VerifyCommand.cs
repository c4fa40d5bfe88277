using System.CommandLine;
using System.Text.Json;
using Ingot.Destinations;

namespace Ingot.Cli.Commands;

/// <summary>Re-hashes every landed file against the state store and the raw manifests; exit 1 on any mismatch.</summary>
internal static class VerifyCommand
{
    public static Command Build(CliIo io)
    {
        var pipeline = Common.PipelineArgument();
        var json = Common.JsonOption();
        var command = new Command("verify", "re-hash landed files against their manifests and count table rows per unit; report missing, altered or miscounted data") { pipeline, json };
        command.SetAction((parse, _) => Common.Guard(io, async () =>
        {
            var (settings, spec) = Common.Load(parse.GetValue(pipeline)!);
            var ct = io.Cancellation;
            var destinations = Composition.Destinations(spec);
            await using var state = Common.OpenExistingState(settings, TimeProvider.System);
            var chunks = await state.GetChunksAsync(spec.Name, ct).ConfigureAwait(false);
            var problems = new List<(string Kind, string Destination, string Path, string Detail)>();
            var checkedFiles = new HashSet<(string, string)>();
            foreach (var chunk in chunks.Values.Where(c => c.Status == State.ChunkStatus.Done))
            {
                foreach (var f in chunk.Files)
                {
                    var dest = destinations.FirstOrDefault(d => d.Name == f.Destination);
                    if (dest is null) continue;
                    checkedFiles.Add((f.Destination, f.Path));
                    var hash = await dest.HashAsync(f.Path, ct).ConfigureAwait(false);
                    if (hash is null) problems.Add(("missing", f.Destination, f.Path, $"chunk {chunk.Key}"));
                    else if (!string.Equals(hash, f.Sha256, StringComparison.OrdinalIgnoreCase)) problems.Add(("altered", f.Destination, f.Path, $"sha256 {hash}, expected {f.Sha256}"));
                }
            }
            // The raw manifests stand on their own: they verify the archive even without the state store.
            foreach (var raw in destinations.OfType<RawDestination>())
            {
                await foreach (var blob in raw.Store.ListAsync($"{spec.Name}/raw", ct).ConfigureAwait(false))
                {
                    if (!blob.Path.Contains("/_manifests/", StringComparison.Ordinal) || !blob.Path.EndsWith(".json", StringComparison.Ordinal)) continue;
                    await using var s = await raw.Store.OpenReadAsync(blob.Path, ct).ConfigureAwait(false);
                    if (s is null) continue;
                    Manifest? manifest;
                    try
                    {
                        manifest = await JsonSerializer.DeserializeAsync<Manifest>(s, ManifestJson.Options, ct).ConfigureAwait(false);
                    }
                    catch (JsonException e)
                    {
                        problems.Add(("altered", raw.Name, blob.Path, $"manifest unreadable: {e.Message}"));
                        continue;
                    }
                    foreach (var entry in manifest?.Files ?? [])
                    {
                        if (checkedFiles.Contains((raw.Name, entry.Path))) continue;
                        checkedFiles.Add((raw.Name, entry.Path));
                        var hash = await raw.HashAsync(entry.Path, ct).ConfigureAwait(false);
                        if (hash is null) problems.Add(("missing", raw.Name, entry.Path, $"manifest {blob.Path}"));
                        else if (!string.Equals(hash, entry.Sha256, StringComparison.OrdinalIgnoreCase)) problems.Add(("altered", raw.Name, entry.Path, $"sha256 {hash}, expected {entry.Sha256}"));
                    }
                }
            }
            // Records landed twice: files under a destination that no committed unit keeps (a second version of a unit,
            // or a unit landed by a run whose state is gone), and committed units whose bounds overlap.
            var committed = chunks.Values.SelectMany(c => c.Files).GroupBy(f => f.Destination).ToDictionary(g => g.Key, g => (IReadOnlySet<string>)g.Select(f => f.Path).ToHashSet(StringComparer.Ordinal));
            var streams = spec.Streams.ToList();
            foreach (var d in destinations)
            {
                await foreach (var path in d.ListUnkeptAsync(spec.Name, streams, committed.GetValueOrDefault(d.Name) ?? new HashSet<string>(), ct).ConfigureAwait(false))
                    problems.Add(("unkept", d.Name, path, "a file no committed unit keeps: its records are in the lake twice, or were landed by a run this state store does not know"));
            }
            // Tables: every done unit's rows counted in the destination against what the state says landed.
            var unitsCounted = 0;
            foreach (var d in destinations.Where(d => d.Mode == CommitMode.ReplaceByUnitKey))
            {
                var held = new Dictionary<string, LakeUnit>(StringComparer.Ordinal);
                await foreach (var unit in d.ListCommittedAsync(spec.Name, streams, details: true, ct).ConfigureAwait(false)) held[unit.Key] = unit;
                foreach (var chunk in chunks.Values.Where(c => c.Status == State.ChunkStatus.Done && streams.Contains(c.Stream)))
                {
                    unitsCounted++;
                    var expected = chunk.Receipts.FirstOrDefault(r => r.Destination == d.Name)?.Rows ?? chunk.Records;
                    if (!held.Remove(chunk.Key, out var landed)) problems.Add(("missing", d.Name, chunk.Key, $"the state has the unit done with {expected} rows; the destination holds none"));
                    else if (landed.Records != expected) problems.Add(("count", d.Name, chunk.Key, $"{landed.Records} rows, the state says {expected}"));
                }
                foreach (var extra in held.Values)
                    problems.Add(("unkept", d.Name, extra.Key, $"{extra.Records} rows of a unit the state does not have as done: landed by a run this state store does not know"));
            }
            foreach (var stream in chunks.Values.Where(c => c.Status == State.ChunkStatus.Done).GroupBy(c => c.Stream))
            {
                var windows = stream.Select(c => (c.Key, Bounds: Sources.UnitBounds.FromJson(c.Bounds) as Sources.TimeWindowBounds)).Where(x => x.Bounds is not null).OrderBy(x => x.Bounds!.From).ToList();
                for (var i = 0; i < windows.Count; i++)
                {
                    for (var j = i + 1; j < windows.Count && windows[j].Bounds!.From < windows[i].Bounds!.To; j++)
                    {
                        if (windows[i].Bounds!.Overlaps(windows[j].Bounds!))
                            problems.Add(("overlap", stream.Key, windows[i].Key, $"overlaps unit {windows[j].Key}: records of both windows and stations are landed twice"));
                    }
                }
            }
            var ownChecks = 0;
            // Table formats check themselves: every live file of the current snapshot, and the state's units against the table's record.
            foreach (var d in destinations.OfType<IVerifiableDestination>())
            {
                var done = chunks.Values.Where(c => c.Status == State.ChunkStatus.Done).Select(c => new DoneUnit(c.Key, c.Stream, c.Records)).ToList();
                var report = await d.VerifyAsync(spec.Name, done, ct).ConfigureAwait(false);
                foreach (var p in report.Problems) problems.Add((p.Kind, ((IDestination)d).Name, p.Path, p.Detail));
                ownChecks += report.FilesChecked;
            }
            if (parse.GetValue(json))
            {
                await io.Out.WriteLineAsync(JsonSerializer.Serialize(new
                {
                    pipeline = spec.Name,
                    files_checked = checkedFiles.Count + ownChecks,
                    units_counted = unitsCounted,
                    problems = problems.Select(p => new { kind = p.Kind, destination = p.Destination, path = p.Path, detail = p.Detail }),
                })).ConfigureAwait(false);
            }
            else
            {
                foreach (var p in problems) await io.Out.WriteLineAsync($"{p.Kind}: {p.Destination} {p.Path} ({p.Detail})").ConfigureAwait(false);
                await io.Out.WriteLineAsync($"{checkedFiles.Count + ownChecks} files checked, {(unitsCounted > 0 ? $"{unitsCounted} units' rows counted, " : "")}{problems.Count} problems").ConfigureAwait(false);
            }
            return problems.Count == 0 ? 0 : 1;
        }));
        return command;
    }
}
