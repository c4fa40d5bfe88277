namespace Ingot.Simulators;

internal sealed record KnmiParameter(string Name, string Label, string Unit);

internal sealed record KnmiCollection(string Id, string Title, TimeSpan Step, string Period, DateTimeOffset FirstStamp, KnmiParameter[] Parameters)
{
    /// <summary>The latest time stamp available at <paramref name="now"/>: values are stamped at the end of their interval.</summary>
    public DateTimeOffset LastStamp(DateTimeOffset now) =>
        new(now.UtcTicks - ((now.UtcTicks - FirstStamp.UtcTicks) % Step.Ticks), TimeSpan.Zero);

    public KnmiParameter? Find(string name) => Array.Find(Parameters, p => p.Name == name);
}

internal static class KnmiCollections
{
    public static readonly KnmiCollection Daily = new(
        "daily-in-situ-meteorological-observations-validated",
        "Daily validated in-situ meteorological observations (day D stamped D+1T00:00:00Z)",
        TimeSpan.FromDays(1),
        "P1D",
        new DateTimeOffset(1951, 1, 2, 0, 0, 0, TimeSpan.Zero),
        [
            new("TG", "Daily mean temperature", "°C"),
            new("TN", "Minimum temperature", "°C"),
            new("TX", "Maximum temperature", "°C"),
            new("TNH", "Hour of minimum temperature", "h"),
            new("TXH", "Hour of maximum temperature", "h"),
            new("RH", "Daily precipitation amount", "mm"),
            new("RHX", "Maximum hourly precipitation amount", "mm"),
            new("SQ", "Sunshine duration", "h"),
            new("SP", "Percentage of maximum potential sunshine duration", "%"),
            new("Q", "Global radiation", "J/cm2"),
            new("DR", "Precipitation duration", "h"),
            new("FG", "Daily mean wind speed", "m/s"),
            new("FHX", "Maximum hourly mean wind speed", "m/s"),
            new("FXX", "Maximum wind gust", "m/s"),
            new("PG", "Daily mean sea level pressure", "hPa"),
            new("UG", "Daily mean relative humidity", "%"),
            new("NG", "Mean daily cloud cover", "octa"),
            new("EV24", "Potential evapotranspiration (Makkink)", "mm"),
        ]);

    public static readonly KnmiCollection Hourly = new(
        "hourly-in-situ-meteorological-observations-validated",
        "Hourly validated in-situ meteorological observations",
        TimeSpan.FromHours(1),
        "PT1H",
        new DateTimeOffset(1951, 1, 1, 1, 0, 0, TimeSpan.Zero),
        [
            new("DD", "Mean wind direction", "degree"),
            new("FH", "Hourly mean wind speed", "m/s"),
            new("FF", "Mean wind speed (last 10 minutes)", "m/s"),
            new("FX", "Maximum wind gust", "m/s"),
            new("T", "Air temperature at 1.5 m", "°C"),
            new("T10N", "Minimum temperature at 0.1 m", "°C"),
            new("TD", "Dew point temperature", "°C"),
            new("SQ", "Sunshine duration", "h"),
            new("Q", "Global radiation", "J/cm2"),
            new("DR", "Precipitation duration", "h"),
            new("RH", "Hourly precipitation amount", "mm"),
            new("P", "Sea level pressure", "hPa"),
            new("VV", "Horizontal visibility", "code"),
            new("N", "Cloud cover", "octa"),
            new("U", "Relative humidity", "%"),
            new("WW", "Present weather code", "code"),
            new("IX", "Weather code indicator", "code"),
            new("M", "Fog", "1"),
            new("R", "Rainfall", "1"),
            new("S", "Snow", "1"),
            new("O", "Thunder", "1"),
            new("Y", "Ice formation", "1"),
        ]);

    public static readonly KnmiCollection TenMinute = new(
        "10-minute-in-situ-meteorological-observations",
        "Near real-time 10-minute in-situ meteorological observations (stamped at interval end)",
        TimeSpan.FromMinutes(10),
        "PT10M",
        new DateTimeOffset(2003, 4, 1, 0, 10, 0, TimeSpan.Zero),
        [
            new("ta", "Air temperature 1.5 m", "°C"),
            new("tn", "Minimum air temperature 1.5 m (10 min)", "°C"),
            new("tx", "Maximum air temperature 1.5 m (10 min)", "°C"),
            new("rh", "Relative humidity", "%"),
            new("dd", "Wind direction", "degree"),
            new("ff", "Wind speed", "m/s"),
            new("fx", "Maximum wind gust", "m/s"),
            new("gff", "Maximum 3 s wind gust", "m/s"),
            new("qg", "Global radiation", "W/m2"),
            new("n", "Cloud cover", "octa"),
            new("ww", "Present weather code", "code"),
            new("pp", "Sea level pressure", "hPa"),
            new("rr", "Precipitation amount", "mm"),
        ]);

    public static readonly KnmiCollection[] All = [Daily, Hourly, TenMinute];

    public static KnmiCollection? Find(string id) => Array.Find(All, c => c.Id == id);
}
