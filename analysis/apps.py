from django.apps import AppConfig


def _study_results_html(study):
    from analysis.report import study_report_html

    return study_report_html(study)


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        # The study page (evaluation) shows the comparison table and plots; evaluation never imports analysis.
        from evaluation.study_page import register_study_page_section

        register_study_page_section("Comparison table", _study_results_html)
