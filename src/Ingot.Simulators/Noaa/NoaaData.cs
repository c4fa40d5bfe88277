using System.Globalization;

namespace Ingot.Simulators;

/// <summary>One PRECIP_15 observation as the NOAA simulator serves it.</summary>
/// <param name="Date">End of the 15-minute period, no time zone (served as <c>yyyy-MM-ddTHH:mm:ss</c>).</param>
/// <param name="DataType"><c>QPCP</c> or <c>QGAG</c>.</param>
/// <param name="Station">COOP id, e.g. <c>COOP:010008</c>.</param>
/// <param name="Attributes">Measurement, quality and units flags joined by commas, e.g. <c>,,HI</c> or <c>a,,HI</c>.</param>
/// <param name="Value">Hundredths of an inch without <c>units</c>, inches for <c>standard</c>, mm for <c>metric</c>; 99999 marks no valid amount.</param>
public sealed record NoaaRecord(DateTime Date, string DataType, string Station, string Attributes, double Value);

/// <summary>Ground truth of the NOAA CDO v2 simulator (PRECIP_15): which records a query yields, in served order.</summary>
public static class NoaaData
{
    /// <summary>The no-valid-amount sentinel (accumulation begin, missing period).</summary>
    public const double Sentinel = 99999;

    internal static readonly NoaaStation[] StationTable =
    [
        new("COOP:010008", "ABBEVILLE, AL US", 31.5702, -85.2482, 139),
        new("COOP:010160", "ALBERTVILLE 2 SE, AL US", 34.2263, -86.1658, 324.3),
        new("COOP:012813", "FAIRHOPE 2 NE, AL US", 30.5467, -87.8808, 7.9),
        new("COOP:040693", "BERKELEY, CA US", 37.8744, -122.2605, 94.5),
        new("COOP:053005", "FORT COLLINS, CO US", 40.5758, -105.0847, 1525.2),
        new("COOP:087205", "PLANT CITY, FL US", 28.0225, -82.1425, 36.6),
        new("COOP:111577", "CHICAGO MIDWAY AP, IL US", 41.7372, -87.7775, 186.5),
        new("COOP:305801", "NEW YORK CENTRAL PARK, NY US", 40.7789, -73.9692, 42.7),
        new("COOP:415596", "LUBBOCK, TX US", 33.6656, -101.8231, 992.1),
        new("COOP:457473", "SEATTLE URBAN SITE, WA US", 47.6542, -122.3000, 6.1),
    ];

    /// <summary>First day with PRECIP_15 data.</summary>
    public static DateTime MinDate { get; } = new(1970, 5, 12, 0, 0, 0, DateTimeKind.Unspecified);

    /// <summary>Last day with PRECIP_15 data (the CDO series is frozen at the end of 2013).</summary>
    public static DateTime MaxDate { get; } = new(2013, 12, 31, 0, 0, 0, DateTimeKind.Unspecified);

    /// <summary>COOP ids of the simulated stations.</summary>
    public static IReadOnlyList<string> Stations { get; } = StationTable.Select(s => s.Id).ToArray();

    /// <summary>PRECIP_15 data types.</summary>
    public static IReadOnlyList<string> DataTypes { get; } = ["QGAG", "QPCP"];

    /// <summary>
    /// The records a <c>/data?datasetid=PRECIP_15</c> query yields, sorted as served (date, station, data type).
    /// Empty <paramref name="stations"/> or <paramref name="dataTypes"/> mean all; both <paramref name="from"/> and
    /// <paramref name="to"/> are inclusive (a date-only end date means midnight at its start).
    /// </summary>
    public static IReadOnlyList<NoaaRecord> Records(int seed, IEnumerable<string> stations, IEnumerable<string> dataTypes, DateTime from, DateTime to, string? units = null)
    {
        ArgumentNullException.ThrowIfNull(stations);
        ArgumentNullException.ThrowIfNull(dataTypes);
        var stationSet = stations.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var typeSet = dataTypes.Select(t => t.ToUpperInvariant()).ToHashSet(StringComparer.Ordinal);
        var selected = StationTable.Where(s => stationSet.Count == 0 || stationSet.Contains(s.Id)).ToArray();
        var wantQpcp = typeSet.Count == 0 || typeSet.Contains("QPCP");
        var wantQgag = typeSet.Count == 0 || typeSet.Contains("QGAG");
        var result = new List<NoaaRecord>();
        var firstDay = from.Date < MinDate ? MinDate : from.Date;
        var lastDay = to.Date > MaxDate ? MaxDate : to.Date;
        for (var day = firstDay; day <= lastDay; day = day.AddDays(1))
        {
            foreach (var station in selected)
            {
                foreach (var record in Day(seed, station.Id, day))
                {
                    if (record.Date >= from && record.Date <= to && (record.DataType == "QPCP" ? wantQpcp : wantQgag))
                    {
                        result.Add(Scale(record, units));
                    }
                }
            }
        }

        result.Sort(static (a, b) =>
        {
            var c = a.Date.CompareTo(b.Date);
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Station, b.Station);
            }

            return c != 0 ? c : string.CompareOrdinal(a.DataType, b.DataType);
        });
        return result;
    }

    private static NoaaRecord Scale(NoaaRecord raw, string? units)
    {
        if (raw.Value == Sentinel)
        {
            return raw;
        }

        return units?.ToUpperInvariant() switch
        {
            "STANDARD" => raw with { Value = Math.Round(raw.Value / 100, 2) },
            "METRIC" => raw with { Value = Math.Round(raw.Value * 0.254, 1) },
            _ => raw,
        };
    }

    /// <summary>One station-day: most days are dry (no records); a wet day has one rain event of consecutive 15-minute slots.</summary>
    private static IEnumerable<NoaaRecord> Day(int seed, string station, DateTime day)
    {
        var h = KnmiData.Mix((ulong)(uint)seed ^ 0x4E4F4141UL);
        h = KnmiData.Mix(h ^ (ulong)int.Parse(station.AsSpan(station.IndexOf(':') + 1), NumberStyles.None, CultureInfo.InvariantCulture));
        h = KnmiData.Mix(h ^ (ulong)day.Ticks);
        if ((h & 0xFFFF) >= 0.12 * 65536)
        {
            yield break;
        }

        var start = 1 + (int)((h >> 16) % 80);          // slot 1 ends 00:15
        var length = 1 + (int)((h >> 24) % 12);
        var kind = (h >> 32) % 100;                     // <5 accumulation, <8 missing period, else normal
        var gauge = 300 + (int)((h >> 40) % 2000);
        var end = start + length - 1;
        DateTime At(int slot) => day.AddMinutes(15 * slot);

        if (kind < 5)
        {
            var amount = 5 + (int)((h >> 48) % 120);
            yield return new NoaaRecord(At(start), "QGAG", station, "a,,HI", Sentinel);
            yield return new NoaaRecord(At(start), "QPCP", station, "a,,HI", Sentinel);
            if (end != start)
            {
                yield return new NoaaRecord(At(end), "QGAG", station, "A,,HI", gauge + amount);
                yield return new NoaaRecord(At(end), "QPCP", station, "A,,HI", amount);
            }

            yield break;
        }

        if (kind < 8)
        {
            yield return new NoaaRecord(At(start), "QGAG", station, "[,,HI", Sentinel);
            yield return new NoaaRecord(At(start), "QPCP", station, "[,,HI", Sentinel);
            if (end != start)
            {
                yield return new NoaaRecord(At(end), "QGAG", station, "],,HI", Sentinel);
                yield return new NoaaRecord(At(end), "QPCP", station, "],,HI", Sentinel);
            }

            yield break;
        }

        var r = h;
        for (var slot = start; slot <= end; slot++)
        {
            r = KnmiData.Mix(r);
            var trace = r % 10 == 0;
            var value = trace ? 0 : 1 + (int)((r >> 8) % 40);
            gauge += value;
            yield return new NoaaRecord(At(slot), "QGAG", station, ",,HI", gauge);
            yield return new NoaaRecord(At(slot), "QPCP", station, trace ? "T,,HI" : ",,HI", value);
        }
    }
}

internal sealed record NoaaStation(string Id, string Name, double Latitude, double Longitude, double Elevation);
