from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from django.core.signals import request_finished, request_started

        from analysis import labelling_answers, panels, report_cache
        from evaluation.panels import register_panel
        from scoring.answer_reader import install_study_answer_reader

        request_started.connect(report_cache.on_request_started, dispatch_uid="analysis-report-request-started")
        request_finished.connect(report_cache.on_request_finished, dispatch_uid="analysis-report-request-finished")
        register_panel("study", "results", "Results", panels.results_panel, order=50)
        register_panel("study", "metric-agreement", "Automatic metrics against the people", panels.metric_agreement_panel,
                       order=60)
        install_study_answer_reader(labelling_answers.study_answers)
        register_panel("rater", "agreement", "Agreement with the other raters", panels.rater_panel, order=50)
