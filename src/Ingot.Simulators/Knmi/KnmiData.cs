using System.Globalization;

namespace Ingot.Simulators;

/// <summary>
/// Ground truth of the KNMI simulator: the value served for one observation, deterministic by seed,
/// so tests can check what an ingestion archived.
/// </summary>
public static class KnmiData
{
    internal static readonly KnmiStation[] StationTable =
    [
        new("0-20000-0-06235", "DE KOOY VK", 4.781, 52.928),
        new("0-20000-0-06240", "SCHIPHOL", 4.790, 52.318),
        new("0-20000-0-06249", "BERKHOUT AWS", 4.979, 52.644),
        new("0-20000-0-06260", "DE BILT AWS", 5.180, 52.100),
        new("0-20000-0-06275", "DEELEN", 5.873, 52.056),
        new("0-20000-0-06280", "GRONINGEN AIRPORT EELDE", 6.585, 53.125),
        new("0-20000-0-06283", "HUPSEL AWS", 6.657, 52.069),
        new("0-20000-0-06290", "TWENTHE AWS", 6.891, 52.274),
        new("0-20000-0-06310", "VLISSINGEN AWS", 3.596, 51.442),
        new("0-20000-0-06330", "HOEK VAN HOLLAND AWS", 4.122, 51.992),
        new("0-20000-0-06344", "ROTTERDAM THE HAGUE AP", 4.447, 51.962),
        new("0-20000-0-06370", "EINDHOVEN AP", 5.377, 51.451),
        new("0-20000-0-06380", "MAASTRICHT AACHEN AP", 5.762, 50.906),
    ];

    /// <summary>WIGOS ids (<c>0-20000-0-06NNN</c>) of the stations every collection serves.</summary>
    public static IReadOnlyList<string> Stations { get; } = StationTable.Select(s => s.Id).ToArray();

    /// <summary>
    /// The value served for <paramref name="parameter"/> (case-sensitive, as in the collection) at
    /// <paramref name="stationId"/> (WIGOS id or the 5-digit number) and time stamp <paramref name="time"/>;
    /// null when the simulator serves it as missing (about 2%).
    /// </summary>
    public static double? Value(int seed, string stationId, DateTimeOffset time, string parameter)
    {
        ArgumentNullException.ThrowIfNull(stationId);
        ArgumentNullException.ThrowIfNull(parameter);
        var station = StationNumber(stationId);
        var utc = time.UtcDateTime;
        var h = Mix((ulong)(uint)seed ^ 0x4B4E4D49UL);
        h = Mix(h ^ (ulong)station);
        h = Mix(h ^ (ulong)utc.Ticks);
        foreach (var c in parameter)
        {
            h = Mix(h ^ c);
        }

        if ((h >> 48) % 50 == 0)
        {
            return null;
        }

        var u = (h & 0xFFFFFFFFUL) / 4294967296.0;       // noise in [0,1)
        var v = ((h >> 32) & 0xFFFFUL) / 65536.0;        // second, independent noise
        var season = Math.Sin(2 * Math.PI * (utc.DayOfYear - 110) / 365.25);
        var daily = Math.Sin(2 * Math.PI * (utc.Hour + (utc.Minute / 60.0) - 9) / 24);
        var temperature = 10 + (7 * season) + (3 * daily) + ((station % 7) * 0.2) + (u * 4) - 2;
        return parameter switch
        {
            "T" or "TG" or "ta" => Round1(temperature),
            "TD" => Round1(temperature - 2 - (v * 4)),
            "TN" or "tn" or "T10N" or "Tn6" or "Tn12" or "Tn14" => Round1(temperature - 3 - (v * 3)),
            "TX" or "tx" or "Tx6" or "Tx12" or "Tx24" => Round1(temperature + 3 + (v * 3)),
            "TNH" or "TXH" or "FHXH" or "RHXH" => 1 + Math.Floor(u * 24),
            "RH" or "RHX" or "rr" => u < 0.6 ? 0 : Round1(-Math.Log(1 - v) * 2),
            "SQ" or "DR" => Round1(u * 12),
            "SP" => Math.Floor(u * 101),
            "U" or "UG" or "rh" => Math.Floor(60 + (u * 41)),
            "DD" or "dd" => Math.Floor(u * 36) * 10,
            "FF" or "FH" or "FG" or "ff" => Round1(0.5 + (u * 11.5)),
            "FX" or "FXX" or "FHX" or "gff" or "fx" => Round1(3 + (u * 20)),
            "P" or "PG" or "pp" => Round1(1013 + ((u - 0.5) * 30)),
            "Q" or "qg" => Math.Floor(u * 2500),
            "VV" => Math.Floor(u * 80),
            "N" or "NG" or "n" => Math.Floor(u * 9),
            "WW" or "ww" => Math.Floor(u * 100),
            "IX" => 1 + Math.Floor(u * 7),
            "M" or "R" or "S" or "O" or "Y" => u < 0.2 ? 1 : 0,
            "EV24" => Round1(u * 5),
            _ => Round1(u * 100),
        };
    }

    internal static int StationNumber(string stationId)
    {
        var tail = stationId[(stationId.LastIndexOf('-') + 1)..];
        return int.TryParse(tail, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    internal static ulong Mix(ulong x)
    {
        // SplitMix64 finaliser: stable across runs and platforms, unlike string.GetHashCode.
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static double Round1(double x) => Math.Round(x, 1, MidpointRounding.AwayFromZero);
}

internal sealed record KnmiStation(string Id, string Name, double Longitude, double Latitude);
